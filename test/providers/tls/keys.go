package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key algorithms and ECDSA curves the real provider accepts (its validators' lists, in its order).
var (
	supportedAlgorithms  = []string{"RSA", "ECDSA", "ED25519"}
	supportedECDSACurves = []string{"P224", "P256", "P384", "P521"}
)

// PEM block types the provider reads and writes.
const (
	pemRSAPrivateKey   = "RSA PRIVATE KEY"
	pemECPrivateKey    = "EC PRIVATE KEY"
	pemPKCS8PrivateKey = "PRIVATE KEY"
	pemPublicKey       = "PUBLIC KEY"
	pemCertificate     = "CERTIFICATE"
	pemCertRequest     = "CERTIFICATE REQUEST"
)

func curveByName(name string) (elliptic.Curve, error) {
	switch name {
	case "P224":
		return elliptic.P224(), nil
	case "P256":
		return elliptic.P256(), nil
	case "P384":
		return elliptic.P384(), nil
	case "P521":
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("invalid ECDSA curve; supported values are: %v", supportedECDSACurves)
}

// generateKey makes a new private key; rsaBits and curve are the resource's (defaulted) attributes.
func generateKey(algorithm string, rsaBits int64, curve string) (crypto.Signer, error) {
	switch algorithm {
	case "RSA":
		return rsa.GenerateKey(rand.Reader, int(rsaBits))
	case "ECDSA":
		c, err := curveByName(curve)
		if err != nil {
			return nil, err
		}
		return ecdsa.GenerateKey(c, rand.Reader)
	case "ED25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("failed to generate ED25519 key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("key algorithm %q is not supported", algorithm)
}

// privateKeyPEM encodes a key the way the real provider stores private_key_pem: PKCS#1 for RSA,
// SEC 1 for ECDSA, PKCS#8 for ED25519.
func privateKeyPEM(key crypto.Signer) (string, error) {
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: pemRSAPrivateKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return "", err
		}
		block = &pem.Block{Type: pemECPrivateKey, Bytes: der}
	case ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", err
		}
		block = &pem.Block{Type: pemPKCS8PrivateKey, Bytes: der}
	default:
		return "", fmt.Errorf("key type %T not supported", key)
	}
	return string(pem.EncodeToMemory(block)), nil
}

func privateKeyPKCS8PEM(key crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemPKCS8PrivateKey, Bytes: der})), nil
}

// supportsOpenSSH: x/crypto/ssh has no P-224 support, so those keys get empty OpenSSH attributes.
func supportsOpenSSH(key crypto.Signer) bool {
	if k, ok := key.(*ecdsa.PrivateKey); ok && k.Curve == elliptic.P224() {
		return false
	}
	return true
}

func privateKeyOpenSSH(key crypto.Signer, comment string) (string, error) {
	if !supportsOpenSSH(key) {
		return "", nil
	}
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return "", fmt.Errorf("unable to marshal private key into OpenSSH format: %w", err)
	}
	return string(pem.EncodeToMemory(block)), nil
}

// publicKeyAttributes are the public_key_* attributes and the id of tls_private_key.
type publicKeyAttributes struct {
	id, pem, openssh, md5, sha256 string
}

func publicAttributes(key crypto.Signer) (publicKeyAttributes, error) {
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return publicKeyAttributes{}, fmt.Errorf("failed to marshal public key: %w", err)
	}
	out := publicKeyAttributes{
		id:  hashForState(string(der)),
		pem: string(pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der})),
	}
	if sshKey, err := ssh.NewPublicKey(key.Public()); err == nil {
		out.openssh = string(ssh.MarshalAuthorizedKey(sshKey))
		out.md5 = ssh.FingerprintLegacyMD5(sshKey)
		out.sha256 = ssh.FingerprintSHA256(sshKey)
	}
	return out, nil
}

// parsePrivateKeyPEM reads a private key in any of the three PEM forms and names its algorithm.
func parsePrivateKeyPEM(text string) (crypto.Signer, string, error) {
	block, rest := pem.Decode([]byte(text))
	if block == nil {
		return nil, "", fmt.Errorf("failed to decode PEM block: decoded bytes %d, undecoded %d", len(text)-len(rest), len(rest))
	}
	var key any
	var err error
	switch block.Type {
	case pemRSAPrivateKey:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case pemECPrivateKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case pemPKCS8PrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("unable to determine parser for PEM preamble: %s", block.Type)
	}
	if err != nil {
		return nil, "", fmt.Errorf("failed to parse private key given PEM preamble '%s': %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, "RSA", nil
	case *ecdsa.PrivateKey:
		return k, "ECDSA", nil
	case ed25519.PrivateKey:
		return k, "ED25519", nil
	}
	return nil, "", fmt.Errorf("failed to determine key algorithm for private key of type %T", key)
}

// decodePEM returns the first PEM block of text, which must be of type want.
func decodePEM(text, want string) (*pem.Block, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, fmt.Errorf("failed to decode PEM of expected type %q from bytes", want)
	}
	if block.Type != want {
		return nil, fmt.Errorf("invalid PEM type - expected %q, got %q", want, block.Type)
	}
	return block, nil
}

// hashForState: hex SHA-1 of the trimmed value, the real provider's resource id scheme.
func hashForState(value string) string {
	if value == "" {
		return ""
	}
	sum := sha1.Sum([]byte(strings.TrimSpace(value)))
	return hex.EncodeToString(sum[:])
}
