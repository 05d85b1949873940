package jsonstrict

import (
	"bytes"
	"fmt"
	"testing"
)

var typicalBody = []byte(`{"title":"Pay invoice 2026-0042 to ACME Supplies Ltd","description":"Quarterly office supplies.\nApproved budget line 7.","service_rule":"payments","deadline":"2030-01-02T15:04:05Z","policy":{"rules":[{"name":"finance","groups":["finance"],"min_approvals":2},{"name":"owner","principals":["user:alice","user:bob"],"min_approvals":1}]},"payload":{"invoice":"2026-0042","supplier":{"name":"ACME Supplies Ltd","vat":"GB123456789","iban":"GB33BUKB20201555555555"},"amount":"1200.00","currency":"GBP","lines":[{"sku":"PAPER-A4","qty":40,"unit":"4.50"},{"sku":"TONER-K","qty":6,"unit":"120.00"},{"sku":"PENS-BL","qty":100,"unit":"0.90"}],"cost_centre":"OPS-7","requested_by":"user:carol","notes":"Deliver to the 3rd floor."}}`)

// largeBody is a create body with a payload of about 256 KiB.
func largeBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"title":"Publish dataset","payload":{"files":[`)
	for i := 0; b.Len() < 256<<10-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"file_path":"staging/project/table_%05d.csv","hash_value":"%064x","total_bytes":%d,"ok":true}`, i, i*7919, i*1024)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

// BenchmarkCheck measures Check alone on a typical create body and on one
// with a 256 KiB payload (httpapi's BenchmarkDecodeCreateBody compares the
// check and decode with decoding alone).
func BenchmarkCheck(b *testing.B) {
	for name, text := range map[string][]byte{"create-1KB": typicalBody, "payload-256KiB": largeBody()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Check(text, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
