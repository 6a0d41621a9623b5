package keys

// SetExportBytesMax lowers the size of file up to which s takes exports,
// so that a test reaches the limit without writing 12 MiB of them.
func SetExportBytesMax(s *FileStore, n int) { s.exportBytesMax = n }

// LockStoreFile takes the write lock of the store at path, as a writer in
// another process would hold it.
func LockStoreFile(path string) (unlock func(), err error) { return lockStore(path + ".lock") }
