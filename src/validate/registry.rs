//! Every check the validator knows, in the order they run: its id, group, title, the
//! section it comes from and its severity. `--only` is checked against this table before
//! anything is sent, and the report lists checks by it.

use super::report::Severity;
use super::CheckMeta;

use Severity::{EntraInterop, OktaInterop, Recommended, Required};

const fn c(
    id: &'static str,
    group: &'static str,
    title: &'static str,
    source: &'static str,
    severity: Severity,
) -> CheckMeta {
    CheckMeta { id, group, title, source, severity }
}

pub const CHECKS: &[CheckMeta] = &[
    c("discovery.spc", "discovery", "ServiceProviderConfig is served", "RFC 7644 §4", Required),
    c("discovery.resource-types", "discovery", "ResourceTypes lists User and Group", "RFC 7644 §4", Recommended),
    c("discovery.schemas", "discovery", "Schemas describes the User schema", "RFC 7644 §4", Recommended),
    c("discovery.group-schema", "discovery", "Schemas describes the Group schema", "RFC 7644 §4", Required),
    c(
        "discovery.schema-coverage",
        "discovery",
        "Schemas describes every attribute Entra's default mappings write",
        "RFC 7643 §7, Entra gallery",
        Recommended,
    ),
    c(
        "discovery.by-id",
        "discovery",
        "/Schemas/{id} and /ResourceTypes/{id}, unknown ids 404",
        "RFC 7644 §4",
        Recommended,
    ),
    c(
        "discovery.read-only",
        "discovery",
        "Discovery endpoints refuse POST, PUT, PATCH, DELETE",
        "RFC 7644 §4",
        Recommended,
    ),
    c("auth.required", "auth", "Requests without credentials get 401", "RFC 7644 §2", Required),
    c("auth.bad-token", "auth", "A wrong token gets 401 with a SCIM error body", "RFC 7644 §3.12", Required),
    c(
        "auth.oauth",
        "auth",
        "OAuth client credentials: a token valid 60–360 minutes that the endpoint accepts",
        "RFC 6749 §4.4, Entra gallery",
        Recommended,
    ),
    c("auth.media-type", "auth", "Responses are application/scim+json", "RFC 7644 §3.1", Recommended),
    c("users.create", "users", "POST /Users creates a user (201, id, meta)", "RFC 7644 §3.3", Required),
    c("users.get", "users", "GET /Users/{id} returns the user", "RFC 7644 §3.4.1", Required),
    c("users.location", "users", "Create answers with a Location header", "RFC 7644 §3.3", Recommended),
    c("users.meta-location", "users", "meta.location is the resource's URL", "RFC 7643 §3.1", Recommended),
    c(
        "users.uniqueness",
        "users",
        "A duplicate userName (same, or other case) gets 409 uniqueness",
        "RFC 7644 §3.3",
        Required,
    ),
    c("users.put", "users", "PUT replaces the user", "RFC 7644 §3.5.1", Required),
    c("users.not-found", "users", "An unknown id gets 404 with a SCIM error", "RFC 7644 §3.12", Required),
    c("users.delete", "users", "DELETE removes a user (204, then 404)", "RFC 7644 §3.6", Required),
    c("users.delete-missing", "users", "DELETE of an unknown or deleted user gets 404", "RFC 7644 §3.6", Required),
    c("users.restore", "users", "A deleted user's userName can be created again", "RFC 7644 §3.3", Required),
    c("users.reactivate", "users", "active false, then true again", "RFC 7643 §4.1.1", Required),
    c("users.rename", "users", "PATCH userName, then filter by the new value", "RFC 7644 §3.5.2", Required),
    c("patch.replace-path", "patch", "PATCH replace with a path", "RFC 7644 §3.5.2.3", Required),
    c("patch.returns-resource", "patch", "PATCH answers 200 with the resource", "RFC 7644 §3.5.2", Recommended),
    c("patch.add-no-path", "patch", "PATCH add without a path merges attributes", "RFC 7644 §3.5.2.1", Required),
    c(
        "patch.value-filter",
        "patch",
        "PATCH a value-filtered path emails[type eq \"work\"].value",
        "RFC 7644 §3.5.2",
        Required,
    ),
    c("patch.remove", "patch", "PATCH remove deletes an attribute", "RFC 7644 §3.5.2.2", Required),
    c(
        "patch.entra-legacy",
        "patch",
        "Entra's PATCH: \"Replace\" op, boolean as \"False\"",
        "Entra §1.4.4",
        EntraInterop,
    ),
    c("patch.entra-dotted", "patch", "Entra's path-less replace with dotted keys", "Entra §1.4.4", EntraInterop),
    c(
        "patch.entra-manager",
        "patch",
        "Entra's manager: set as a bare id, cleared with {\"value\":\"\"}",
        "Entra §1.4.5",
        EntraInterop,
    ),
    c("patch.null-update", "patch", "Replace with \"\" and then null unassigns", "RFC 7644 §3.5.2.3", Required),
    c("patch.multi-op", "patch", "Several operations in one PATCH, in order", "RFC 7644 §3.5.2", Required),
    c("patch.manager-change", "patch", "Manager added, changed and removed", "RFC 7643 §4.3", Recommended),
    c("groups.create", "groups", "POST /Groups creates a group with a member", "RFC 7644 §3.3", Required),
    c("groups.filter-display-name", "groups", "Groups filter by displayName eq", "RFC 7644 §3.4.2.2", Required),
    c("groups.filter-case", "groups", "Groups filter displayName eq in another case", "RFC 7643 §4.2", Recommended),
    c("groups.filter-none", "groups", "A group filter with no match gives an empty list", "RFC 7644 §3.4.2", Required),
    c("groups.list", "groups", "GET /Groups answers a ListResponse (within 600 ms)", "RFC 7644 §3.4.2", Recommended),
    c("groups.uniqueness", "groups", "A duplicate displayName gets 409 uniqueness", "RFC 7644 §3.3", Recommended),
    c("groups.patch-attributes", "groups", "PATCH of a group's displayName", "RFC 7644 §3.5.2", Required),
    c(
        "groups.excluded-members",
        "groups",
        "excludedAttributes=members leaves members out",
        "RFC 7644 §3.4.2.5",
        Recommended,
    ),
    c("groups.add-member", "groups", "PATCH add members", "RFC 7644 §3.5.2.1", Required),
    c("groups.remove-member-filter", "groups", "PATCH remove members[value eq \"id\"]", "RFC 7644 §3.5.2.2", Required),
    c(
        "groups.entra-remove-member",
        "groups",
        "Entra's member removal: path members, value list",
        "Entra §1.5",
        EntraInterop,
    ),
    c("groups.multi-member", "groups", "Several members added, and removed, in one PATCH", "RFC 7644 §3.5.2", Required),
    c("groups.member-lookup", "groups", "Groups filter members[value eq \"id\"]", "Entra §1.5", EntraInterop),
    c(
        "groups.restore",
        "groups",
        "DELETE twice gets 404; the group can be created again",
        "RFC 7644 §3.6",
        Recommended,
    ),
    c("filters.eq", "filters", "userName eq finds exactly one user", "RFC 7644 §3.4.2.2", Required),
    c("filters.eq-case", "filters", "userName eq is case-insensitive", "RFC 7644 §3.4.2.2", Required),
    c(
        "filters.eq-none",
        "filters",
        "A filter with no match gives an empty list (Test Connection)",
        "RFC 7644 §3.4.2.2",
        Required,
    ),
    c("filters.sw", "filters", "sw operator", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.co", "filters", "co operator", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.ew", "filters", "ew operator", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.and", "filters", "and", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.or", "filters", "or", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.not", "filters", "not ( )", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.ne", "filters", "ne operator", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.gt-date", "filters", "gt on a dateTime (meta.lastModified)", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.lt-date", "filters", "lt on a dateTime (meta.lastModified)", "RFC 7644 §3.4.2.2", Recommended),
    c("filters.pr", "filters", "pr operator", "RFC 7644 §3.4.2.2", Recommended),
    c(
        "filters.value-path",
        "filters",
        "value path emails[type eq \"work\" and value co \"@\"]",
        "RFC 7644 §3.4.2.2",
        Recommended,
    ),
    c("filters.external-id", "filters", "externalId eq (Entra matching)", "RFC 7644 §3.4.2.2", EntraInterop),
    c("filters.invalid", "filters", "A malformed filter gets 400 invalidFilter", "RFC 7644 §3.4.2.2", Recommended),
    c(
        "paging.total-before-slice",
        "paging",
        "totalResults counts every match, not the page",
        "RFC 7644 §3.4.2.4",
        Required,
    ),
    c("paging.walk", "paging", "startIndex pages walk every match once", "RFC 7644 §3.4.2.4", Recommended),
    c("paging.sort", "paging", "sortBy userName descending orders the results", "RFC 7644 §3.4.2.3", Recommended),
    c(
        "paging.attributes",
        "paging",
        "attributes=userName returns only what was asked (and id)",
        "RFC 7644 §3.4.2.5",
        Recommended,
    ),
    c("paging.count-5", "paging", "11 users walked 5 at a time, startIndex echoed", "RFC 7644 §3.4.2.4", Required),
    c("paging.groups", "paging", "11 groups walked 5 at a time, startIndex echoed", "RFC 7644 §3.4.2.4", Recommended),
    c("etag.conditional", "etag", "ETag, If-None-Match → 304, stale If-Match → 412", "RFC 7644 §3.14", Recommended),
    c(
        "bulk.bulk-id",
        "bulk",
        "/Bulk creates a user and a group that references it by bulkId",
        "RFC 7644 §3.7",
        Recommended,
    ),
    c("errors.bad-json", "errors", "Malformed JSON gets 400 with a SCIM error body", "RFC 7644 §3.12", Required),
    c("errors.missing-user-name", "errors", "A user without userName gets 400", "RFC 7643 §4.1", Required),
    c("okta.connection", "okta", "Okta's connection test: GET /Users?startIndex=1&count=2", "Okta §6.2", OktaInterop),
    c(
        "okta.deactivate",
        "okta",
        "Okta's deactivation: path-less replace {\"active\": false}",
        "Okta §6.2",
        OktaInterop,
    ),
    c("okta.put-keeps-active", "okta", "PUT with active true keeps the user active", "Okta §6.2", OktaInterop),
    c(
        "okta.list-fields",
        "okta",
        "Okta's list assertions: ListResponse numbers, Resources[0] fields",
        "Okta §6.2",
        OktaInterop,
    ),
    c(
        "okta.create-echo",
        "okta",
        "POST as application/json echoes active, name, userName, schemas",
        "Okta §6.2",
        OktaInterop,
    ),
    c(
        "okta.get-fields",
        "okta",
        "GET by id returns userName, name, active and emails as created",
        "Okta §6.2",
        OktaInterop,
    ),
    c(
        "flow.test-connection",
        "entra-flow",
        "Test Connection (a filter for a random userName)",
        "Entra §1.3",
        EntraInterop,
    ),
    c(
        "flow.create",
        "entra-flow",
        "Initial cycle: lookup, create users and group, link manager",
        "Entra §1.4.1–1.4.5, §1.5",
        EntraInterop,
    ),
    c(
        "flow.update",
        "entra-flow",
        "Incremental cycle: every mapped attribute changed, PATCHed",
        "Entra §1.4.4",
        EntraInterop,
    ),
    c("flow.manager", "entra-flow", "Manager set, changed and removed through cycles", "Entra §1.4.5", EntraInterop),
    c(
        "flow.restore",
        "entra-flow",
        "Unassigned, then assigned again: deleted, then created",
        "Entra §5.4",
        EntraInterop,
    ),
    c("flow.pod-user", "entra-flow", "Provision on demand of a new user", "Entra §5.10", EntraInterop),
    c("flow.disable", "entra-flow", "Disable: active false, still retrievable", "Entra §1.4.6", EntraInterop),
    c("flow.members", "entra-flow", "A member removed from a provisioned group", "Entra §1.5", EntraInterop),
    c("flow.member-add", "entra-flow", "A member added to a provisioned group", "Entra §1.5", EntraInterop),
    c("flow.group-update", "entra-flow", "A group's displayName changed in a cycle", "Entra §1.5", EntraInterop),
    c("flow.pod-group", "entra-flow", "Provision on demand of a new group with a member", "Entra §5.10", EntraInterop),
    c("flow.delete", "entra-flow", "Delete: DELETE, then 404", "Entra §1.4.7", EntraInterop),
];

/// The check groups, in the order they run.
pub const GROUPS: &[&str] = &[
    "discovery",
    "auth",
    "users",
    "patch",
    "groups",
    "filters",
    "paging",
    "etag",
    "bulk",
    "errors",
    "okta",
    "entra-flow",
];

/// The check with this id; an id missing from the table is a bug in scimlab, reported as
/// a failing check named after it rather than a panic.
pub fn find(id: &'static str) -> &'static CheckMeta {
    CHECKS.iter().find(|c| c.id == id).unwrap_or(&UNREGISTERED)
}

pub const UNREGISTERED: CheckMeta =
    c("internal.unregistered", "internal", "A check missing from the registry (a scimlab bug)", "scimlab", Required);

/// Whether `name` is a group or a check id.
pub fn is_known(name: &str) -> bool {
    GROUPS.iter().any(|g| g.eq_ignore_ascii_case(name)) || CHECKS.iter().any(|c| c.id.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_group_is_listed() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "duplicate check ids");
        for c in CHECKS {
            assert!(GROUPS.contains(&c.group), "{} has an unlisted group {}", c.id, c.group);
            assert!(
                c.id.starts_with(c.group.rsplit('-').next().unwrap_or("")),
                "{} is not named after its group",
                c.id
            );
        }
        for g in GROUPS {
            assert!(CHECKS.iter().any(|c| c.group == *g), "group {g} has no checks");
        }
    }
}
