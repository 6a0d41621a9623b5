package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzCitiesJSON: the cities of a terminal's parameters decode or are
// refused, never panic; what decodes encodes back the same.
func FuzzCitiesJSON(f *testing.F) {
	f.Add([]byte(`{"own":"3150","changes":[{"city":"2000","action":"add","effective":"20251231"},{"city":"1000","action":"remove","effective":"20251208"}]}`))
	f.Add([]byte(`{"own":"31","changes":[]}`))
	f.Add([]byte(`{"own":"3150","changes":[{"city":"2000","action":"drop","effective":"2025-12-31"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var j citiesJSON
		if json.Unmarshal(b, &j) != nil {
			return
		}
		own, cs, err := j.cities()
		if err != nil {
			return
		}
		again := newCitiesJSON(own, cs)
		own2, cs2, err := again.cities()
		if err != nil || own2 != own || !reflect.DeepEqual(cs, cs2) {
			t.Fatalf("%s: decoded %X %v, again %X %v (%v)", b, own, cs, own2, cs2, err)
		}
	})
}
