package store

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/store/storetest"
)

// Twenty writers each read a counter and write it back plus one, in
// SERIALIZABLE transactions that conflict with each other. Every increment
// must land: a serialization failure reported at COMMIT (where PostgreSQL
// reports most of them, and where crdb.ExecuteInTx ignores the error) must
// be retried, not lost.
func TestInTxRetriesSerializationFailuresWithoutLosingWrites(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, storetest.NewDatabase(t), Options{MaxConns: 25})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.pool.Exec(ctx, `CREATE TABLE counter (id INT8 PRIMARY KEY, n INT8 NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO counter VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	const writers, each = 20, 5
	var wg sync.WaitGroup
	errc := make(chan error, writers*each)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errc <- db.inTx(ctx, func(tx pgx.Tx) error {
					var n int64
					if err := tx.QueryRow(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `UPDATE counter SET n = $1 WHERE id = 1`, n+1)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errc)
	failed := 0
	for err := range errc {
		if err != nil {
			failed++
			t.Logf("transaction failed: %v", err)
		}
	}
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != writers*each-failed {
		t.Fatalf("counter = %d, but %d transactions reported success: a committed-looking write was lost", n, writers*each-failed)
	}
	if failed > 0 {
		t.Fatalf("%d transactions gave up after retries", failed)
	}
}
