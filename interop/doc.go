// Package interop is the interconnection (互联互通) with the national
// interconnection centre: its files (docs/interop.md), their export from a
// clearing cycle and their import.
package interop
