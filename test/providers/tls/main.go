// Command terraform-provider-tls: a stand-in for registry.terraform.io/hashicorp/tls 4.1.0, written
// for this repository's plan and apply tiers because the Go module proxy refuses the real module.
//
// It serves the schema of the real provider's resources that the library uses (tls_private_key,
// tls_self_signed_cert, tls_locally_signed_cert, tls_cert_request) with the same attribute names,
// types, flags, defaults, validators and replacement behaviour, and creates real keys and
// certificates with Go's standard library. Protocol 5, like the real 4.1.0 release.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// Version is the release this stand-in reproduces; terraform only sees the mirror's path, but the
// provider reports it too.
const Version = "4.1.0"

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers (reattach)")
	flag.Parse()
	err := providerserver.Serve(context.Background(), newProvider, providerserver.ServeOpts{
		Address:         "registry.terraform.io/hashicorp/tls",
		Debug:           *debug,
		ProtocolVersion: 5,
	})
	if err != nil {
		log.Fatal(err)
	}
}
