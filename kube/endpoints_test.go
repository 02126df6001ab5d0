package kube

import (
	"context"
	"slices"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestReadyAddressesMergesSlices(t *testing.T) {
	yes, no := true, false
	a := slice("a", "greeter", 7000, map[string]bool{"10.0.0.1": true, "10.0.0.2": false})
	b := slice("b", "greeter", 7000, map[string]bool{"10.0.0.3": true, "10.0.0.1": true})
	b.Endpoints = append(b.Endpoints,
		discoveryv1.Endpoint{Addresses: []string{"10.0.0.4"}},                                                                             // unknown: ready
		discoveryv1.Endpoint{Addresses: []string{"10.0.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes, Terminating: &yes}}, // going
		discoveryv1.Endpoint{Addresses: []string{"10.0.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}})
	other := slice("c", "greeter", 9000, map[string]bool{"10.0.0.9": true}) // another port
	fqdn := slice("d", "greeter", 7000, map[string]bool{"x.example": true})
	fqdn.AddressType = discoveryv1.AddressTypeFQDN
	got := readyAddresses([]*discoveryv1.EndpointSlice{a, b, other, fqdn}, 7000)
	want := []string{"10.0.0.1:7000", "10.0.0.3:7000", "10.0.0.4:7000"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// The follower reports the whole merged set at each change of any slice
// of its Service, and ignores other Services' slices.
func TestFollowerReportsEachChange(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(slice("g-1", "greeter", 7000, map[string]bool{"10.0.0.1": true}))
	got := make(chan []string, 16)
	f, err := follow(ctx, c, testNS, "greeter", 7000, func(a []string) { got <- a }, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	expect := func(want ...string) {
		t.Helper()
		select {
		case a := <-got:
			if !slices.Equal(a, want) {
				t.Fatalf("reported %v, want %v", a, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no report of %v", want)
		}
	}
	expect("10.0.0.1:7000")
	sl := c.DiscoveryV1().EndpointSlices(testNS)
	create := func(s *discoveryv1.EndpointSlice) {
		if _, err := sl.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(slice("x-1", "other", 7000, map[string]bool{"10.0.9.9": true}))
	create(slice("g-2", "greeter", 7000, map[string]bool{"10.0.0.2": true, "10.0.0.3": false}))
	expect("10.0.0.1:7000", "10.0.0.2:7000")
	if _, err := sl.Update(ctx, slice("g-2", "greeter", 7000, map[string]bool{"10.0.0.2": true, "10.0.0.3": true}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000")
	if err := sl.Delete(ctx, "g-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("10.0.0.2:7000", "10.0.0.3:7000")
	select {
	case a := <-got:
		t.Errorf("unexpected report %v", a)
	default:
	}
}
