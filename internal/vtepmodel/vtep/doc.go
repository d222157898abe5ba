// Package vtep is the generated libovsdb model of the hardware_vtep schema
// (RFC 7047 database "hardware_vtep", vtep.ovsschema 1.7.0): one Go struct
// per table with its column constants, and FullDatabaseModel and Schema for
// clients and in-process servers. Every other file is written by modelgen
// (see package vtepmodel); this one is not, so regenerating keeps it.
package vtep
