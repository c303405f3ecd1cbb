package main

import "testing"

// The SDK's own consistency checks of the schema (what the real provider's tests run too).
func TestProviderInternalValidate(t *testing.T) {
	if err := newProvider().InternalValidate(); err != nil {
		t.Fatal(err)
	}
}
