package pgwire

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestCopyPlan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want copySpec
	}{
		{`copy pgbench_accounts from stdin with (freeze on)`, copySpec{table: "pgbench_accounts", tableName: "pgbench_accounts", from: true, delim: '\t', null: `\N`, quote: '"'}},
		{`COPY public.t (a, "b") FROM STDIN WITH CSV HEADER DELIMITER AS ';' NULL AS 'x'`, copySpec{table: "t", tableName: "t", cols: []string{"a", `"b"`}, from: true, csv: true, header: true, delim: ';', null: "x", quote: '"', escape: '"', delimSet: true, nullSet: true}},
		{`COPY t TO STDOUT (FORMAT csv, HEADER true, QUOTE '''', FORCE_QUOTE *)`, copySpec{table: "t", tableName: "t", csv: true, header: true, delim: ',', quote: '\'', escape: '\'', forceAll: true}},
		{`copy (select 1; ) to stdout`, copySpec{query: "select 1;", delim: '\t', null: `\N`, quote: '"'}},
	} {
		p := buildPlan(tc.in)
		if p.kind != planCopy {
			t.Errorf("%q: kind %d, err %v", tc.in, p.kind, p.err)
			continue
		}
		got := *p.x.(*copySpec)
		if strings.Join(got.cols, ",") != strings.Join(tc.want.cols, ",") {
			t.Errorf("%q: cols %q want %q", tc.in, got.cols, tc.want.cols)
		}
		got.cols, tc.want.cols = nil, nil
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{`COPY t FROM '/etc/passwd'`, `COPY t TO PROGRAM 'ls'`, `COPY t FROM STDIN (FORMAT binary, HEADER)`, `COPY t FROM STDIN BINARY CSV`, `COPY t`, `COPY (select 1) FROM STDIN`} {
		if p := buildPlan(in); p.kind != planRefuse || p.err.Hint == "" && p.err.Code != codeNotSupported {
			t.Errorf("%q: kind %d, err %+v", in, p.kind, p.err)
		}
	}
}

func TestCopyParser(t *testing.T) {
	parse := func(spec *copySpec, ncols int, data string) ([][]copyField, error) {
		spec.check()
		p := &copyParser{spec: spec, r: bufioReader(data), ncols: ncols, names: []string{"a", "b", "c"}}
		var out [][]copyField
		for {
			rec, err := p.next()
			if err != nil {
				if err.Error() == "EOF" {
					return out, nil
				}
				return out, err
			}
			out = append(out, append([]copyField(nil), rec...))
		}
	}
	show := func(recs [][]copyField) string {
		var b []string
		for _, r := range recs {
			var f []string
			for _, v := range r {
				if v.null {
					f = append(f, "NULL")
				} else {
					f = append(f, "["+v.s+"]")
				}
			}
			b = append(b, strings.Join(f, ","))
		}
		return strings.Join(b, ";")
	}
	recs, err := parse(&copySpec{delim: '\t', null: `\N`, quote: '"'}, 2, "1\ta\\tb\\\\\n\\N\t\n\\.\nignored\n")
	if err != nil || show(recs) != "[1],[a\tb\\];NULL,[]" {
		t.Fatalf("text: %q %v", show(recs), err)
	}
	recs, err = parse(&copySpec{csv: true, header: true, delim: '\t', null: `\N`, quote: '"'}, 3, "h1,h2,h3\r\n1,\"a,\"\"b\"\"\nc\",\n2,\"\",x\n")
	if err != nil || show(recs) != "[1],[a,\"b\"\nc],NULL;[2],[],[x]" {
		t.Fatalf("csv: %q %v", show(recs), err)
	}
	_, err = parse(&copySpec{delim: '\t', null: `\N`, quote: '"'}, 2, "1\ta\n2\tb\tc\n")
	var pe *pgError
	if !errors.As(err, &pe) || pe.Code != "22P04" || !strings.Contains(pe.Message, "line 2") {
		t.Fatalf("extra column: %v", err)
	}
	_, err = parse(&copySpec{csv: true, delim: '\t', null: `\N`, quote: '"'}, 1, "\"open\n")
	if !errors.As(err, &pe) || pe.Code != "22P04" || !strings.Contains(pe.Message, "unterminated CSV") {
		t.Fatalf("unterminated: %v", err)
	}
}

// FuzzCopyParser feeds COPY data in each format to the parser: it never
// panics, and anything it refuses is refused with an SQLSTATE and a
// message.
func FuzzCopyParser(f *testing.F) {
	for _, s := range []string{
		"1\ta\\tb\n\\N\t\n\\.\n",
		"h1,h2\n1,\"a,\"\"b\"\"\nc\"\n\"open\n",
		"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01A\xff\xff\xff\xff\xff\xff",
		"\\x41\\101\\\n", "1\t2\t3\t4\n",
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, data string, format uint8) {
		spec := &copySpec{delim: '\t', null: `\N`, quote: '"', tableName: "t"}
		switch format % 3 {
		case 1:
			spec.csv, spec.header = true, true
		case 2:
			spec.binary = true
		}
		if err := spec.check(); err != nil {
			t.Fatal(err)
		}
		p := &copyParser{spec: spec, r: bufioReader(data), ncols: 2, names: []string{"a", "b"},
			oids: []uint32{oidInt4, oidBytea}}
		args := make([]driver.NamedValue, 2)
		for range 10000 {
			err := p.nextValues(args)
			if err == nil {
				continue
			}
			if err == io.EOF {
				return
			}
			if pe := toPgError(err); pe.Code == "" || pe.Message == "" || pe.Code == codeInternal {
				t.Fatalf("error without a proper code: %+v", err)
			}
			return
		}
	})
}

// A record longer than maxCopyLine is refused with 54000 once that much
// has arrived, not held whole.
func TestCopyParserRefusesEndlessRecord(t *testing.T) {
	defer func(n int) { maxCopyLine = n }(maxCopyLine)
	maxCopyLine = 4 << 20
	for _, csv := range []bool{false, true} {
		spec := &copySpec{delim: '\t', null: `\N`, quote: '"', tableName: "t", csv: csv}
		spec.check()
		data := strings.Repeat("x", maxCopyLine+100)
		if csv {
			data = "\"" + strings.Repeat(strings.Repeat("x", 1000)+"\n", maxCopyLine/1000+10)
		}
		p := &copyParser{spec: spec, r: bufioReader(data), ncols: 1, names: []string{"a"}, oids: []uint32{oidText}}
		_, err := p.next()
		var pe *pgError
		if !errors.As(err, &pe) || pe.Code != codeProgramLimit {
			t.Fatalf("csv %v: %v", csv, err)
		}
	}
}
