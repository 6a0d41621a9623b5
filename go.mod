module github.com/citycard/citycard

go 1.26

require github.com/emmansun/gmsm v0.42.0
