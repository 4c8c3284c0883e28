//go:build !linux

package streamio

// GrowPipe does nothing where pipe buffers cannot be resized.
func GrowPipe(p any, size int) {}
