// Package card is the virtual CPU card: an ISO 7816-4 file system holding
// the transit e-purse application, answering the PBOC 2.0 e-purse APDUs as
// CJ/T 166 and JT/T 978 inherit them, byte for byte. Terminals, PSAMs and
// the back office are tested against what it sends.
//
// # Profiles
//
//   - citizen: the citizen card, a co-branded chip. Its bank application
//     (PBOC 3.0, AID A000000333010101) answers SELECT but no e-purse
//     command (it is accepted post-paid in a later wave): with it
//     selected, the proprietary commands (CLA 80, 84) answer 6D00 and
//     READ BINARY, READ RECORD and GET CHALLENGE 6985. Its transit
//     e-purse follows CJ/T 166 under AID A00000000386980701, ASN 8 bytes.
//   - mohurd: the MOHURD city-transit card, AID A00000000386980701, ASN 8 bytes.
//   - mot: the Ministry of Transport card (JT/T 978), AID A000000632010105,
//     ASN 10 bytes.
//
// Diversification always takes the rightmost 8 bytes of the ASN.
//
// The e-purse FCI (the answer to SELECT) is 6F { 84 AID, A5 { 9F08 01
// version, BF0C { 9F4D 02 18 0A } } }: the application version and where
// the log is (SFI 18h, 10 records). The bank application's FCI is 6F { 84
// AID, A5 { 50 label, 87 01 01 } }.
//
// # Files of the e-purse application
//
//   - SFI 15h, public basic data (32 bytes, READ BINARY 00 B0 95 00 20):
//     issuer code (8) | application type (1, 01 = e-purse) | application
//     version (1) | ASN (10, an 8-byte ASN right-aligned after 00 00) |
//     start date (4, BCD) | expiry date (4, BCD) | card type (1) | rider
//     category (1) | profile (1: 1 citizen, 2 mohurd, 3 mot) | reserved (1).
//   - SFI 18h, transaction log: cyclic, the last 10 transactions, 23 bytes
//     each (READ RECORD 00 B2 NN C4 17, record 1 the newest): counter (2,
//     online for loads, offline for purchases) | overdraw limit (3) |
//     amount (4) | type (1) | terminal ID (6) | date (4) | time (3). The
//     counter is the one the transaction carried (INITIALIZE returned it).
//   - SFI 17h, the composite-purchase transit record file: variable records
//     addressed by their identifier, the record's first byte (READ RECORD
//     00 B2 ID B8 00; written only by UPDATE CAPP DATA CACHE inside a
//     composite purchase, committed with the debit). Layouts are in
//     transit.go: 01 the trip (75 bytes; the last entry: network, line,
//     station, time, for tap-off; the journey; and the previous leg:
//     network, line, stations, product, start and end time and amount
//     paid, for transfers at a tap-off gate), 02 the spend (20 bytes;
//     the day's and month's spend and rides, for caps), 10h-17h the
//     products held (22 bytes; passes and count tickets: product,
//     validity, rides left, daily limit). READ RECORD shows what is
//     committed, never the cache of an open transaction; an identifier
//     with no record answers 6A83.
//
// # Entitlement file
//
// A card personalized with an application key (Config.AppKey: the
// application master key, keys.KeyApplication, diversified by the ASN as
// the e-purse keys are) holds SFI 1Ah in the e-purse application, the
// entitlement file (应用数据文件) of the application systems whose gates
// decide offline. READ BINARY 00 B0 9A 00 00 reads it whole (at most
// EntitlementsMaxLen, 223 bytes):
//
//	format 01 (1) | key version (1) | file version (4) | application
//	counter (2) | count (1, at most 6) | grant MAC (4) | count × slot (35)
//
//	slot: application (1: 1 campus, 2 library, 3 venue, 4 site, 5 parking,
//	6 bike, 7 concession) |
//	scope (4) | valid from (4) | valid to (4) | class (2) | limit (2) |
//	uses (2) | last date (4) | last time (3) | inside (1) | sites (8)
//
// A concession slot (application 7, AppConcession) is the back office's
// own: its scope is the card's rider category code (0-255) and its
// validity the days the card travels in it, up to its annual review's
// grace; a fare terminal prices the card at its lapsed category without
// it. A slot's grant (application to limit) is written at a service point or
// kiosk; the file version goes up with every change of the grants, so a
// gate that was told a card's newer version refuses the stale file until
// the card's next online contact rewrites it. The grant MAC is keys.MAC
// under the card's application key over format | key version | file
// version | count | each slot's grant (17 bytes): a file that did not come
// from the issuer fails it at the gate. Fields an application does not
// use are zero (class: campus; limit and uses: library loans out of the
// limit, venue admissions in the month of the last stamp, campus canteen
// spend in fen on the last stamp's day of the daily canteen limit in
// fen that the parents set; inside: campus and
// parking, and bike: a bike out, hired at the last stamp; sites: site, bit n-1 for site n visited on the last stamp's
// day), uses never pass the limit, and at most one slot per application
// and scope: ParseEntitlements refuses anything else, naming the field.
//
// STAMP (80 DE slot 00 21 data MAC 04) is how a gate writes one
// stamp: data is action (1) | terminal ID (6) | terminal sequence (4) |
// date (4) | time (3) | the slot's new uses (2), inside (1) and sites (8),
// and MAC is the gate's write MAC, keys.MAC under the application key
// over counter (2) | slot (1) | data: the gate's SAM derives the key from
// the application master key, and the counter makes each write MAC good
// once. The card writes the slot's use and last stamp (the command's date
// and time), answers the stamp MAC (keys.StampMAC: keys.MAC over counter
// | application | scope | action | terminal ID | terminal sequence | date
// | time | uses, see keys.AppendStampMACData) and moves the counter up by
// one: the stamp carries the counter from before. The card decides no
// rule: the gate does (package apps), and the back office proves the
// card's part from the stamp MAC in the non-financial record. For 3DES
// every one of these MACs is the retail MAC under the 16-byte key, for
// SM4 the CBC-MAC; testdata/genstamp.sh computes them with openssl.
//
// STAMP checks, in this order: P2 (6A86), lengths (6700), a file on
// the card (6A82), a blocked application (6A81), the slot (6A83), the
// counter (9402 at FFFFh), the write MAC (9302), then the new use and the
// date and time (6A80). It opens no transaction and closes any open one.
//
// # Commands (CLA 00 for ISO, 80 proprietary, 84 with a MAC)
//
//	SELECT                   00 A4 04 00 Lc AID           -> FCI; 6283 if blocked, 6A82 unknown
//	READ BINARY              00 B0 (80|SFI) off Le        -> data (SFI 15h basic data, 1Ah entitlements)
//	READ RECORD              00 B2 rec (SFI<<3|4) Le      -> record number rec (1 = newest)
//	                         00 B2 id  (SFI<<3|0) Le      -> record with identifier id
//	GET CHALLENGE            00 84 00 00 04               -> random(4)
//	GET BALANCE              80 5C 00 02 04               -> balance(4)
//	INITIALIZE FOR LOAD      80 50 00 02 0B keyver(1) amount(4) terminal(6) 10
//	                            -> balance(4) online ctr(2) keyver(1) alg(1) random(4) MAC1(4)
//	INITIALIZE FOR PURCHASE  80 50 01 02 0B keyver(1) amount(4) terminal(6) 0F
//	INITIALIZE FOR CAPP PUR. 80 50 03 02 0B keyver(1) amount(4) terminal(6) 0F
//	                            -> balance(4) offline ctr(2) overdraw(3) keyver(1) alg(1) random(4)
//	UPDATE CAPP DATA CACHE   80 DC id (17h<<3) Lc record  (only after 8050 03, before 8054)
//	DEBIT FOR PURCHASE       80 54 01 00 0F seq(4) date(4) time(3) MAC1(4) 08 -> TAC(4) MAC2(4)
//	CREDIT FOR LOAD          80 52 00 00 0B date(4) time(3) MAC2(4) 04       -> TAC(4)
//	GET TRANSACTION PROOF    80 5A 00 type 02 counter(2) 08                  -> MAC2(4) TAC(4)
//	STAMP              80 DE slot 00 21 data(29) MAC(4) 04             -> stamp MAC(4)
//	APPLICATION BLOCK        84 1E 00 00 04 MAC(4)   (after GET CHALLENGE)
//	APPLICATION UNBLOCK      84 18 00 00 04 MAC(4)   (after GET CHALLENGE)
//
// Lengths: Lc must be exactly as shown (6700 otherwise). Le may be absent,
// 00, or exactly the length of the answer; any other Le is 6700. READ
// BINARY reads Le bytes from the offset (Le absent or 00: to the end of
// the file); an offset at or past the end is 6B00, Le past the end 6700.
// An unknown CLA, or an INS of the table under another CLA, is 6E00; an
// INS not in the table is 6D00. Until an application is selected (after
// power-up or a tear) every command but SELECT answers 6985; a SELECT
// that fails leaves the selection as it was.
//
// Balances (GET BALANCE, INITIALIZE, the load MAC1 and TAC) are 32-bit
// two's complement: a balance overdrawn to -150 fen reads FFFFFF6A. A
// purchase may take the balance down to minus the overdraw limit; a load
// may take it up to the card's maximum balance (1000 yuan unless
// personalized otherwise).
//
// INITIALIZE checks, in this order: P1 P2 (6A86), lengths (6700), a
// blocked application (6A81), the key version (9403), the counter (9402
// when it is already FFFF: committing would wrap it), then the amount:
// 9401 for a purchase over balance plus overdraw limit, 6A80 for a load
// of 0 or one that would pass the maximum balance.
//
// Transactions: an INITIALIZE opens a transaction (closing any open one
// with nothing changed). READ BINARY, READ RECORD and GET BALANCE leave
// it open, as does an UPDATE CAPP DATA CACHE that succeeds; any other
// command, whatever its answer, and a failed UPDATE CAPP DATA CACHE,
// DEBIT or CREDIT, closes it with nothing changed. So a DEBIT or CREDIT
// answers 6985 unless the command before it (reads aside) was its
// INITIALIZE (or an UPDATE CAPP DATA CACHE of a composite purchase), and
// a wrong MAC1 or MAC2 (9302) ends the transaction.
//
// UPDATE CAPP DATA CACHE checks, in this order: P2 (6A86 for a mode other
// than by identifier, 6A82 for a file other than 17h), an open composite
// purchase (6985), an identifier the file holds (6A83), the record's
// length for that identifier (6700), then that the record's first byte is
// P1 and that every field decodes (6A80). The cache keeps one record per
// identifier (the last one written) and is written only when the DEBIT
// commits.
//
// The key version in INITIALIZE selects which personalized key set the card
// uses (the key index is the key version); an unknown one answers 9403.
// The counter INITIALIZE returns is the one this transaction carries; the
// card increments it when the transaction commits (a new card's counters
// are 0, so its first purchase and its first load carry counter 0). GET TRANSACTION PROOF
// answers only for the card's last transaction, with its type (06, 09, 02)
// and counter, else 9406; for a load the MAC2 half is the host MAC2 the
// card accepted.
//
// The block and unblock MAC (our choice where the public documents leave it
// open) is keys.MAC under the card's maintenance key (DAMK) over
// challenge(4) || the command header with Lc (5 bytes). The DAMK is that
// of the card's newest key set (its highest key version), under that
// set's algorithm; BlockMAC computes it. A challenge is good for the
// command right after GET CHALLENGE only. Blocking a blocked application
// (or unblocking an unblocked one) succeeds and changes nothing. A
// blocked application still answers GET BALANCE, READ BINARY, READ
// RECORD and GET TRANSACTION PROOF.
//
// # Status words
//
// 9000 success; 6700 wrong length; 6985 wrong order (DEBIT without
// INITIALIZE, a second DEBIT) or nothing selected; 6A82 unknown
// application or file; 6A83 no such record; 6A86 bad P1 P2; 6D00 unknown
// INS (and e-purse commands to the bank application); 6E00 unknown CLA;
// 9302 MAC1 or MAC2 wrong; 9401 insufficient balance; 9402 counter at its
// maximum; 9403 unknown key version; 9406 no MAC for that transaction;
// 6A81 purchase or load on a blocked application; 6982 a block MAC
// without a challenge or a wrong one; 6283 (with the FCI) SELECT of a
// blocked application; 6A80 a load of 0 or over the maximum balance, or a
// transit record that does not decode; 6B00 READ BINARY offset outside
// the file. A failed command changes neither balance nor counters, nor
// the log, the transit records or the proof of the last transaction.
//
// # Tearing
//
// A card can be told to lose power at a chosen step (Tear): before or after
// it commits a debit or credit. The tear is armed for the next DEBIT FOR
// PURCHASE or CREDIT FOR LOAD the card receives, whatever its content:
// TearBeforeCommit loses power on receiving it, TearAfterCommit runs it
// (committing if it was good) and loses the answer. Transmit then returns
// an error (kind IO) and no response, and the card is reset (nothing
// selected, no transaction in progress); what it had committed stays, so
// after SELECT, GET TRANSACTION PROOF with the counter INITIALIZE
// returned gives MAC2 and TAC if the transaction committed, 9406 if not.
package card
