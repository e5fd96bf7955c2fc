package spiffs

// Normalize returns a copy of img with the bytes mkspiffs leaves
// undefined set to 0xFF, so images can be compared byte for byte
// (MANIFEST.txt "SPIFFS normalisation", docs §3.9).
//
// SPIFFS builds an object index header in an uninitialised stack struct
// and writes it whole, so in every index header page the 3 alignment
// bytes after the page header (offsets 5–7) and, with aligned index
// tables, the struct's tail padding (offset 45 for the ESP8266
// configuration) hold whatever was on mkspiffs' stack; header moves copy
// them. The rule: for every non-lookup page whose header has obj_id bit 15
// set, obj_id != 0xFFFF and span_ix == 0, set those bytes to 0xFF. Build
// already writes 0xFF there, so Normalize(Build(...)) is Build(...).
//
// Normalize returns an error for invalid parameters or when len(img) is
// not p.Size (p.Size 0 means len(img)).
func Normalize(img []byte, p Params) ([]byte, error) {
	if p.Size == 0 {
		p.Size = len(img)
	}
	g, err := p.geom()
	if err != nil {
		return nil, err
	}
	if len(img) != g.S {
		return nil, errSize(len(img), g.S)
	}
	out := append([]byte(nil), img...)
	for pix := 0; pix < g.pages; pix++ {
		if g.isLookup(pix) {
			continue
		}
		pg := out[pix*g.P : (pix+1)*g.P]
		id := le16(pg)
		if id == idFree || id&ixFlag == 0 || le16(pg[2:]) != 0 {
			continue
		}
		pg[5], pg[6], pg[7] = 0xFF, 0xFF, 0xFF
		for i := g.padOff; i < g.hdrLen; i++ {
			pg[i] = 0xFF
		}
	}
	return out, nil
}
