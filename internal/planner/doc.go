// Package planner computes, as a pure function of the stored state, the
// hardware_vtep state each switch must hold and the VXLAN/FDB state each
// compute host must hold. It does no I/O.
package planner
