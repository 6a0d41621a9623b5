package main

import (
	"context"
	"errors"
)

func runTrace(ctx context.Context, e env, args []string) error {
	return errors.New("trace: not yet")
}
