//! obsim's tests, one binary (one link instead of eight): each module checks one part of the
//! simulator against docs/reference/oceanbase-interface.md or the real `desc` output, through real
//! client libraries.

mod cleanup;
mod common;
mod conformance;
mod control;
mod declared;
mod drills;
mod drivers;
mod files;
mod restore;
mod schemas;
mod tenants;
