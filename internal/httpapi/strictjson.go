package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrTrailingData is DecodeStrictJSON's error when something other than
// whitespace follows the JSON value.
var ErrTrailingData = errors.New("unexpected data after JSON object")

// DecodeStrictJSON decodes data, which must hold exactly one JSON value,
// into v with unknown object fields rejected. Anything but JSON whitespace
// after the value is ErrTrailingData: json.Decoder.More alone lets a stray
// "}" or "]" through, since for it they only end an enclosing value.
func DecodeStrictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	for _, c := range data[dec.InputOffset():] {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return ErrTrailingData
		}
	}
	return nil
}
