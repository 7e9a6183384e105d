package data

// ByteVocab is the vocabulary of the byte-level tokenizer: one token per
// byte value.
const ByteVocab = 256

// Encode returns the byte-level tokens of text: token i is text[i].
func Encode(text []byte) []int32 {
	out := make([]int32, len(text))
	for i, b := range text {
		out[i] = int32(b)
	}
	return out
}

// Decode returns the bytes of byte-level tokens; a token outside 0..255
// (a special token of a synthetic task) becomes '?'.
func Decode(tokens []int32) []byte {
	out := make([]byte, len(tokens))
	for i, t := range tokens {
		if t < 0 || t >= ByteVocab {
			out[i] = '?'
			continue
		}
		out[i] = byte(t)
	}
	return out
}
