// Command tether inspects, calls, serves and runs tether and go-plugin plugins.
package main

func main() {}
