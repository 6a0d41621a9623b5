// Package record is the transaction record: what a terminal stores for one
// tap or load, seals with its PSAM and uploads, and what the back office
// decodes, verifies and books. It holds the record's binary and JSON
// forms, their strict decoders, the sealing helpers and the Verifier.
//
// # What a record proves
//
// Two MACs seal a record. The TAC is the card's: keys.MAC under the card's
// TAC key (its DTK, diversified from the issuer's TAC master key of
// version key_version by the ASN's rightmost 8 bytes; for 3DES the DTK's
// halves XORed into a single-DES key, for SM4 the DTK itself, see
// keys.TACKey) over
//
//	purchase, composite: amount(4) type(1) terminal_id(6) terminal_seq(4) date(4) time(3)
//	load:                balance_before+amount(4) counter(2) amount(4) type(1) terminal_id(6) date(4) time(3)
//
// (keys.AppendPurchaseTACData and keys.LoadTACData; for a load the counter
// is the online counter). It proves the card took part, and nothing else.
// The record MAC is the PSAM's: keys.MAC under the PSAM's record key (the
// operator's record master key of version record_key_version, diversified
// by the PSAM ID's rightmost 8 bytes; see RecordKey) over every byte of
// the binary layout before the MAC itself (Record.MACData: offsets 0 to
// 99, the TAC and the record key version included). For a 3DES record key
// that is the retail MAC, ISO 9797-1 MAC algorithm 3; for SM4 the CBC-MAC.
// So no field, counter, balance, card type or station, can change unseen.
//
// # Binary layout, version 1
//
// A record is Size (104) bytes; integers are unsigned big-endian, dates
// and times BCD, ids raw bytes. Field names are those of the JSON form.
//
//	offset size field              encoding
//	     0    2 magic              "CR" (43 52)
//	     2    1 version            01
//	     3    1 status             00 complete, 01 recovered, 02 grey
//	     4    1 type               02 load, 06 purchase, 09 composite purchase, A0 application
//	     5    8 issuer             issuer code
//	    13   10 asn                ASN; an 8-byte ASN right-aligned after 00 00
//	    23    1 card_type          uint8
//	    24    1 rider_category     uint8
//	    25    1 alg                00 3DES, 04 SM4
//	    26    1 key_version        uint8, the card key version (TAC key)
//	    27    2 counter            uint16, offline counter (online for a load)
//	    29    4 balance_before     uint32 fen
//	    33    4 amount             uint32 fen
//	    37    6 terminal_id        terminal ID
//	    43   10 psam_id            PSAM ID
//	    53    4 terminal_seq       uint32, the PSAM's terminal sequence
//	    57    4 date               BCD YYYYMMDD
//	    61    3 time               BCD HHMMSS
//	    64    2 network            uint16
//	    66    4 line               uint32
//	    70    4 station            uint32
//	    74    4 entry_line         uint32
//	    78    4 entry_station      uint32
//	    82    4 entry_date         BCD YYYYMMDD, or 00000000 for no entry
//	    86    3 entry_time         BCD HHMMSS, or 000000 for no entry
//	    89    2 product            uint16, 0 = stored value
//	    91    4 fare_full          uint32 fen
//	    95    4 tac                the card's TAC, 00000000 on a grey record
//	    99    1 record_key_version uint8, the record master key version
//	   100    4 record_mac         the PSAM's record MAC over bytes 0-99
//
// Every byte has a meaning: there is no padding or reserved byte, so a
// record that decodes encodes again to the same bytes. A later layout
// takes a new version number; a decoder refuses versions it does not know.
// A batch is records concatenated (DecodeStream).
//
// # Rules
//
// Both decoders, MarshalBinary, MarshalJSON and Validate apply the same
// rules, in layout order, and an error names the first field broken (a
// *FieldError, kind Invalid: "field date at offset 57: 20261332 is not a
// date"):
//   - magic "CR" and version 1 (binary only), and exactly Size bytes;
//   - status 0, 1 or 2; type 02, 06, 09 or A0; alg 00 or 04;
//   - issuer, terminal_id and psam_id not all zero, nor the ASN's
//     rightmost 8 bytes (the card's diversification input);
//   - on a load, balance_before + amount fits in 4 bytes (the card's new
//     balance, which the load TAC covers);
//   - date and time a real calendar day and time of day (keys.Time);
//   - entry_date and entry_time both zero (no entry) or a real date and
//     time; on a load all four entry fields are zero (no leg begins at a
//     kiosk);
//   - a grey record's tac is zero. The converse is not a rule: a genuine
//     TAC is 00000000 once in 2^32 records, about once a year at 20
//     million records a day, so the decoder leaves it to the TAC check.
//
// Nothing else is range-checked: card types, products, counters, lines
// and stations are the fare rules' and the acquirer's to judge, and so is
// an amount above the balance (a card may allow an overdraw).
//
// # Application records
//
// A non-financial record (type A0: a campus check-in or check-out, a
// venue or site admission, a library loan or return, a parking check-in
// or check-out)
// uses the same layout, sealed by the same record MAC; application.go
// says what each field carries. It moves no e-purse counter and no
// money: its counter is the application counter of the card's
// entitlement file, its tac the card's stamp MAC (keys.StampMAC under
// the card's application key, over counter, application, scope, action,
// terminal ID, terminal sequence, date, time and uses), and
// balance_before, amount, fare_full, entry_date and entry_time are
// zero. Its status is complete, network (the application) and product
// (the action) are 1 to 255 and entry_station (the uses) at most 65535,
// so that every field the stamp MAC covers has one encoding; these rules
// are checked after the common ones.
//
// # JSON form
//
// One object, the fields named as in the layout, in layout order, without
// magic and version:
//
//	{"status":"complete","type":"composite","issuer":"3150000000000001",
//	 "asn":"3150000012345678","card_type":1,"rider_category":0,"alg":"3DES",
//	 "key_version":1,"counter":17,"balance_before":5000,"amount":300,
//	 "terminal_id":"315000000101","psam_id":"31500000000000000101",
//	 "terminal_seq":4711,"date":"2026-03-12","time":"08:15:00",
//	 "network":1,"line":2,"station":14,"entry_line":2,"entry_station":3,
//	 "entry_date":"2026-03-12","entry_time":"07:58:41","product":0,
//	 "fare_full":300,"tac":"1A2B3C4D","record_key_version":1,
//	 "record_mac":"5E6F7A8B"}
//
// status is complete, recovered or grey; type load, purchase, composite
// or application;
// alg 3DES or SM4; ids and MACs upper-case hex of their exact length (an
// 8-byte ASN as 16 digits, as citycard.ASN prints it); amounts, counters
// and other integers JSON numbers; date "YYYY-MM-DD" and time "HH:MM:SS".
// entry_date and entry_time appear together when there is an entry, and
// not at all when there is none. DecodeJSON refuses what MarshalJSON would
// not write: unknown, duplicated, misspelled or missing fields, numbers
// out of range or with a fraction or exponent, lower-case hex, anything
// after the object, more than MaxJSON bytes. So one record has one JSON
// spelling (up to white space), and binary and JSON convert into each
// other without loss.
//
// # Verification
//
// A Verifier checks the record MAC first: a record that fails it did not
// come unaltered from one of our PSAMs, and nothing else in it can be
// trusted. Then, unless the record is grey (no TAC: it goes to suspense),
// the TAC, under the card's key recomputed from the issuer's master key
// and the ASN, never stored per card. The TAC master key's algorithm must
// be the record's alg. A card whose issuer has no TAC key in the store is
// another city's: Verify says so with ErrPendingIssuer (kind KeyMissing),
// and the record is accepted as pending issuer verification. A missing
// record key, or a missing version of a TAC key whose issuer we hold, is
// a rejection. An application record's stamp MAC is checked in place of
// the TAC, under the application key of version key_version; a missing
// one is a rejection (only our own applications write entitlement
// files). Duplicates, counter gaps, balances and the registration of
// terminals are the acquirer's checks, not this package's.
package record
