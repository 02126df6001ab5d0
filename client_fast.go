package tether

// fastRouter holds the fast-transport connections of a client's admitted
// instances.
type fastRouter struct{}

func (r *fastRouter) any() bool { return false }
