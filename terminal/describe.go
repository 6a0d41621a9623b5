package terminal

import (
	"encoding/binary"
	"fmt"

	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/keys"
)

// DescribePSAM decodes a PSAM command and its response in one line, for
// traces: "INIT SAM FOR PURCHASE amount 200 fen ... -> terminal seq 7, MAC1 ...".
func DescribePSAM(cmd, resp []byte) string {
	c, err := apdu.ParseCommand(cmd)
	if err != nil {
		return "malformed command: " + err.Error()
	}
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		return "malformed response: " + err.Error()
	}
	var what, got string
	switch {
	case c.CLA == 0x00 && c.INS == 0xB0:
		what = "READ BINARY 0016 (terminal number)"
		if r.SW == apdu.SWOK {
			got = fmt.Sprintf("terminal ID %X", r.Data)
		}
	case c.CLA == 0x80 && c.INS == insInitSAMPurchase && len(c.Data) == lenInitSAM:
		d := c.Data
		what = fmt.Sprintf("INIT SAM FOR PURCHASE random %X, card counter %d, amount %d fen, type %02X, %X %X, key v%d %v, ASN %X, issuer %X",
			d[0:4], binary.BigEndian.Uint16(d[4:6]), binary.BigEndian.Uint32(d[6:10]), d[10], d[11:15], d[15:18], d[18], keys.Alg(d[19]), d[20:28], d[28:36])
		if r.SW == apdu.SWOK && len(r.Data) == 8 {
			got = fmt.Sprintf("terminal seq %d, MAC1 %X", binary.BigEndian.Uint32(r.Data[0:4]), r.Data[4:8])
		}
	case c.CLA == 0x80 && c.INS == insCreditSAM:
		what = fmt.Sprintf("CREDIT SAM FOR PURCHASE: check MAC2 %X", c.Data)
	case c.CLA == 0x80 && c.INS == insGenerateMAC && c.P1 == p1RecordMAC:
		what = fmt.Sprintf("GENERATE MAC: record MAC over %d bytes of the record", len(c.Data))
		if r.SW == apdu.SWOK {
			got = fmt.Sprintf("record MAC %X", r.Data)
		}
	case c.CLA == 0x80 && c.INS == insGenerateMAC && c.P1 == p1MaintenanceMAC && len(c.Data) == lenMaintenanceMAC:
		what = fmt.Sprintf("GENERATE MAC: maintenance MAC for card %X (key v%d) over challenge %X and header %X", c.Data[8:16], c.Data[16], c.Data[17:21], c.Data[21:26])
		if r.SW == apdu.SWOK {
			got = fmt.Sprintf("MAC %X", r.Data)
		}
	default:
		what = fmt.Sprintf("command %02X %02X", c.CLA, c.INS)
	}
	if got == "" {
		return fmt.Sprintf("%s -> %v", what, r.SW)
	}
	return fmt.Sprintf("%s -> %s", what, got)
}
