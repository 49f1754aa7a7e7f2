//! The pest-generated parser for `grammar/scim_filter.pest`; nothing else lives here.

#[derive(pest_derive::Parser)]
#[grammar = "grammar/scim_filter.pest"]
pub struct ScimFilterParser;
