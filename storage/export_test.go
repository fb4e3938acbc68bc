package storage

// ApplyDelta exposes applyDelta to the package's external tests.
var ApplyDelta = applyDelta

// AppendDelta exposes appendDelta to the package's external tests.
func AppendDelta(old, cur []byte) []byte {
	d, _ := appendDelta(nil, old, cur)
	return d
}
