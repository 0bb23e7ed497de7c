package ca

import (
	"encoding/json"
	"fmt"
)

// leafTemplate is the engine's X.509 template for a kind of leaf: the
// engine's default leaf template, but with one extended key usage only, so a
// client certificate cannot serve and a server certificate cannot act as a
// client. With crlURL set, leaves name it as their CRL distribution point.
func leafTemplate(kind Kind, crlURL string) string {
	eku := "serverAuth"
	if kind == KindClient {
		eku = "clientAuth"
	}
	crl := ""
	if crlURL != "" {
		u, _ := json.Marshal(crlURL) // a string always marshals
		crl = fmt.Sprintf(",\n\t\"crlDistributionPoints\": [%s]", u)
	}
	return `{
	"subject": {{ toJson .Subject }},
	"sans": {{ toJson .SANs }},
{{- if typeIs "*rsa.PublicKey" .Insecure.CR.PublicKey }}
	"keyUsage": ["keyEncipherment", "digitalSignature"],
{{- else }}
	"keyUsage": ["digitalSignature"],
{{- end }}
	"extKeyUsage": ["` + eku + `"]` + crl + `
}`
}
