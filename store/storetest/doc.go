// Package storetest is the conformance suite of [approval.Store]: every
// store implementation runs [Run] against itself in its own tests, so that
// all of them behave alike.
//
// The suite uses only the approval.Store interface and the domain functions
// of package approval, with a fixed clock, so its results do not depend on
// the database or on when it runs.
package storetest
