package keys

// LockStoreFile takes the write lock of the store at path, as a writer in
// another process would hold it.
func LockStoreFile(path string) (unlock func(), err error) { return lockStore(path + ".lock") }
