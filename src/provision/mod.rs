//! The provisioning engine: an Entra-style provisioning service that reads a source
//! directory and drives any SCIM endpoint over HTTP. It is a SCIM *client*: it never calls
//! the server's service or store code.

pub mod expr;
