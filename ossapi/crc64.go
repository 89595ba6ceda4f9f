package ossapi

import "hash/crc64"

// CombineCRC64 returns the CRC-64/ECMA (as hash/crc64 with crc64.ECMA
// computes it) of A followed by B, from crcA, crcB and B's length, without
// the data: the zero bits B appends to A are applied with powers of the
// CRC's shift operator (zlib's crc32_combine, on 64 bits). OSS's
// x-oss-hash-crc64ecma of a multipart object is its parts' CRCs combined.
func CombineCRC64(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var op, sq [64]uint64 // op: the operator for one zero bit, then a byte
	op[0] = crc64.ECMA
	for n := 1; n < 64; n++ {
		op[n] = 1 << (n - 1)
	}
	for range 3 { // 2, 4, 8 zero bits
		gf2Square(&sq, &op)
		op = sq
	}
	// op now appends 2^k zero bytes; apply it for each bit k of lenB.
	for {
		if lenB&1 != 0 {
			crcA = gf2Times(&op, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			return crcA ^ crcB
		}
		gf2Square(&sq, &op)
		op = sq
	}
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}
