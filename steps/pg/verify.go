package pg

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// VerifyQueries runs each query (by name, in name order) against dsn and
// returns its value by name, as a JSON-friendly type (nil, string, bool,
// int64, float64; times as RFC 3339 text, bytes as hex). Each query must
// return exactly one row of one value.
func VerifyQueries(ctx context.Context, dsn string, queries map[string]string) (map[string]any, error) {
	conn, err := Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	defer conn.Close(context.Background())
	names := slices.Sorted(maps.Keys(queries))
	results := make(map[string]any, len(queries))
	for _, name := range names {
		rows, err := conn.Query(ctx, queries[name])
		if err != nil {
			return nil, fmt.Errorf("verify %q: %w", name, err)
		}
		var got []any
		count := 0
		for rows.Next() {
			count++
			if got, err = rows.Values(); err != nil {
				rows.Close()
				return nil, fmt.Errorf("verify %q: %w", name, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("verify %q: %w", name, err)
		}
		if count != 1 || len(got) != 1 {
			return nil, fmt.Errorf("verify %q: the query returned %d rows of %d columns, want one row with one value", name, count, len(got))
		}
		results[name] = plainValue(got[0])
	}
	return results, nil
}

// plainValue converts a pgx value to the JSON-friendly types outputs use.
func plainValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float32:
		return float64(x)
	case pgtype.Numeric:
		if !x.Valid {
			return nil
		}
		if x.NaN || x.InfinityModifier != pgtype.Finite {
			f, _ := x.Float64Value()
			return f.Float64
		}
		if x.Exp >= 0 {
			i := new(big.Int).Mul(x.Int, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Exp)), nil))
			if i.IsInt64() {
				return i.Int64()
			}
		}
		f, _ := x.Float64Value()
		return f.Float64
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return hex.EncodeToString(x)
	default:
		return fmt.Sprint(x)
	}
}
