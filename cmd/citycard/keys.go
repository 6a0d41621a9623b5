package main

import (
	"context"
	"errors"
)

// runKeys is written by the keys work; placeholder so the binary builds.
func runKeys(ctx context.Context, e env, args []string) error {
	return errors.New("keys: not yet")
}
