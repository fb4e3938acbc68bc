package transport_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// BenchmarkRecordsFrame measures Records frames written, sent over loopback
// TLS, read and decoded, for several batch sizes.
func BenchmarkRecordsFrame(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			a, c := MustNewTrustingPair(b)
			got := make(chan error, 1)
			ln := MustListen(b, a, nil, func(ctx context.Context, conn *transport.Conn) {
				var r transport.Records
				for {
					f, err := conn.ReadFrame(ctx)
					if err != nil {
						got <- err
						return
					}
					if err := r.UnmarshalBinary(f.Payload); err != nil {
						got <- err
						return
					}
					if r.LastLSN == sqlink.LSN(b.N) {
						got <- nil
						return
					}
				}
			})
			conn := MustDial(b, ln, c)
			ctx := context.Background()
			data := make([]byte, size)
			rec := &transport.Records{Epoch: 1, Data: data}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				rec.FirstLSN, rec.LastLSN = sqlink.LSN(i), sqlink.LSN(i)
				if err := conn.WriteMessage(ctx, rec); err != nil {
					b.Fatal(err)
				}
				if i%16 == 0 || i == b.N {
					if err := conn.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := <-got; err != nil {
				b.Fatal(err)
			}
		})
	}
}
