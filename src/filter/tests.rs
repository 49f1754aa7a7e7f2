//! Table-driven tests of the filter language: one line per case.

use serde_json::{json, Value};

use super::*;
use crate::scim::ResourceType;

fn parse(text: &str) -> Result<Filter, FilterError> {
    parse_filter(text, FilterLimits::default())
}

/// Parses, prints, parses again: the canonical text must reparse to the same tree and
/// print identically.
fn round_trip(text: &str) -> String {
    let ast = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let printed = ast.to_string();
    let again = parse(&printed).unwrap_or_else(|e| panic!("{text} printed as {printed}: {e}"));
    assert_eq!(ast, again, "{text} → {printed}");
    assert_eq!(again.to_string(), printed);
    printed
}

#[test]
fn valid_filters_round_trip_to_canonical_text() {
    let cases: &[(&str, &str)] = &[
        (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
        (r#"userName EQ "bjensen""#, r#"userName eq "bjensen""#),
        (r#"userName Eq "bjensen""#, r#"userName eq "bjensen""#),
        (r#"name.familyName co "O'Malley""#, r#"name.familyName co "O'Malley""#),
        (r#"userName sw "J""#, r#"userName sw "J""#),
        (r#"userName ew "son""#, r#"userName ew "son""#),
        (r#"title pr"#, r#"title pr"#),
        (r#"title PR"#, r#"title pr"#),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, r#"meta.lastModified ge "2011-05-13T04:42:34Z""#),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, r#"meta.lastModified lt "2011-05-13T04:42:34Z""#),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, r#"meta.lastModified le "2011-05-13T04:42:34Z""#),
        (r#"title pr and userType eq "Employee""#, r#"title pr and userType eq "Employee""#),
        (r#"title pr or userType eq "Intern""#, r#"title pr or userType eq "Intern""#),
        (r#"title pr AND userType eq "Employee""#, r#"title pr and userType eq "Employee""#),
        (r#"title pr OR userType eq "Intern""#, r#"title pr or userType eq "Intern""#),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails.type eq "work""#,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ),
        (r#"emails[type eq "work"].value eq "a@b.c""#, r#"emails[type eq "work" and value eq "a@b.c"]"#),
        (r#"emails[ type eq "work" ]"#, r#"emails[type eq "work"]"#),
        (r#"members[value eq "2819c223"]"#, r#"members[value eq "2819c223"]"#),
        (r#"members.value eq "2819c223""#, r#"members.value eq "2819c223""#),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "a""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "a""#,
        ),
        (r#"active eq true"#, r#"active eq true"#),
        (r#"active eq false"#, r#"active eq false"#),
        (r#"active eq TRUE"#, r#"active eq true"#),
        (r#"title eq null"#, r#"title eq null"#),
        (r#"x eq 5"#, r#"x eq 5"#),
        (r#"x gt -5.25"#, r#"x gt -5.25"#),
        (r#"x lt 1e3"#, r#"x lt 1000.0"#),
        (r#"userName eq "quote \" inside""#, r#"userName eq "quote \" inside""#),
        (r#"userName eq "back\\slash""#, r#"userName eq "back\\slash""#),
        (r#"userName eq "\u00e9l\u00e8ve""#, r#"userName eq "élève""#),
        (r#"userName eq "élève""#, r#"userName eq "élève""#),
        (r#"userName eq "a and b or c""#, r#"userName eq "a and b or c""#),
        (r#"userName eq "has ) paren""#, r#"userName eq "has ) paren""#),
        (r#"userName eq """#, r#"userName eq """#),
        (r#"  userName eq "x"  "#, r#"userName eq "x""#),
        (r#"userName  eq   "x""#, r#"userName eq "x""#),
        (r#"a pr and b pr and c pr"#, r#"a pr and b pr and c pr"#),
        (r#"a pr or b pr or c pr"#, r#"a pr or b pr or c pr"#),
        (r#"a pr or b pr and c pr"#, r#"a pr or b pr and c pr"#),
        (r#"(a pr or b pr) and c pr"#, r#"(a pr or b pr) and c pr"#),
        (r#"a pr and (b pr and c pr)"#, r#"a pr and (b pr and c pr)"#),
        (r#"a pr or (b pr or c pr)"#, r#"a pr or (b pr or c pr)"#),
        (r#"not (a pr)"#, r#"not (a pr)"#),
        (r#"not(a pr)"#, r#"not (a pr)"#),
        (r#"NOT (a pr)"#, r#"not (a pr)"#),
        (r#"not (not (a pr))"#, r#"not (not (a pr))"#),
        (r#"((a pr))"#, r#"a pr"#),
        (r#"a-b_c pr"#, r#"a-b_c pr"#),
        (r#"members.$ref pr"#, r#"members.$ref pr"#),
        (
            r#"userName eq "x" and not (active eq false) or title pr"#,
            r#"userName eq "x" and not (active eq false) or title pr"#,
        ),
        (r#"emails[not (type eq "work")]"#, r#"emails[not (type eq "work")]"#),
        (r#"emails[type eq "work" or type eq "home"]"#, r#"emails[type eq "work" or type eq "home"]"#),
        (r#"emails[type eq "work"].value pr"#, r#"emails[type eq "work" and value pr]"#),
        (
            r#"name.givenName eq "Ann" and name.familyName eq "Lee""#,
            r#"name.givenName eq "Ann" and name.familyName eq "Lee""#,
        ),
        (r#"andrew eq "x""#, r#"andrew eq "x""#),
        (r#"order pr"#, r#"order pr"#),
        (r#"notes pr"#, r#"notes pr"#),
        (r#"prefix pr"#, r#"prefix pr"#),
        (r#"eq eq "x""#, r#"eq eq "x""#),
    ];
    for (input, canonical) in cases {
        assert_eq!(&round_trip(input), canonical, "input: {input}");
    }
}

#[test]
fn invalid_filters_fail_with_a_positioned_reason() {
    let cases: &[(&str, &str)] = &[
        ("", "column 1"),
        ("   ", "column"),
        ("userName", "column 9"),
        ("userName eq", "column"),
        (r#"userName eq"x""#, "column"),
        (r#"userName xx "x""#, "column 10"),
        (r#"userName eq 'x'"#, "column 13"),
        (r#"userName eq x"#, "column 13"),
        (r#"userName eq "x" and"#, "column"),
        (r#"userName eq "x" and "#, "column"),
        (r#"userName eq "x" xor title pr"#, "column 17"),
        (r#"(userName eq "x""#, "column"),
        (r#"userName eq "x")"#, "column 16"),
        (r#"emails[type eq "work""#, "column"),
        (r#"emails type eq "work"]"#, "column"),
        (r#"not userName eq "x""#, "column"),
        (r#"userName eq "unterminated"#, "column"),
        (r#"1abc eq "x""#, "column 1"),
        (r#"user name eq "x""#, "column"),
        (r#"userName eq "x" and and title pr"#, "column"),
        (r#"userName eq 01"#, "column"),
        (r#"userName eq "bad \q escape""#, "column"),
        (r#"userName eq "x"title pr"#, "column"),
        (r#"title prx"#, "column"),
        (r#"userName eqx "x""#, "column"),
        ("userName eq \"tab\there\"", "column"),
        (r#"urn:foo eq "x""#, "column"),
    ];
    for (input, expected) in cases {
        match parse(input) {
            Ok(f) => panic!("{input:?} parsed as {f}"),
            Err(e) => assert!(e.to_string().contains(expected), "{input:?}: {e} (wanted {expected})"),
        }
    }
}

#[test]
fn limits_reject_long_and_deep_filters_before_parsing() {
    let limits = FilterLimits { max_length: 50, max_depth: 4 };
    let long = format!(r#"userName eq "{}""#, "x".repeat(60));
    assert!(matches!(parse_filter(&long, limits), Err(FilterError::TooLong { .. })));
    let deep = format!("{}a pr{}", "(".repeat(5), ")".repeat(5));
    assert!(matches!(parse_filter(&deep, limits), Err(FilterError::TooDeep { .. })));
    let nots = format!("{}a pr{}", "not (".repeat(10_000), ")".repeat(10_000));
    assert!(parse_filter(&nots, FilterLimits { max_length: 1_000_000, max_depth: 32 }).is_err());
    let chain = vec!["a pr"; 20].join(" and ");
    assert!(parse_filter(&chain, FilterLimits { max_length: 1000, max_depth: 1 }).is_ok(), "a flat chain is not deep");
    // Brackets inside strings do not count as nesting.
    assert!(parse_filter(r#"userName eq "((((((((""#, limits).is_ok());
}

#[test]
fn patch_paths_parse_in_every_rfc_form() {
    let cases: &[&str] = &[
        "userName",
        "name.givenName",
        "emails",
        r#"emails[type eq "work"]"#,
        r#"emails[type eq "work"].value"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"addresses[type eq "work"].streetAddress"#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
        r#"roles[primary eq "True"].display"#,
    ];
    for case in cases {
        let path = parse_patch_path(case, FilterLimits::default()).unwrap_or_else(|e| panic!("{case}: {e}"));
        let reparsed =
            parse_patch_path(&path.to_string(), FilterLimits::default()).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(path, reparsed, "{case}");
    }
    let manager = parse_patch_path(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        FilterLimits::default(),
    )
    .unwrap();
    assert_eq!(manager.attr.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert_eq!(manager.attr.name, "manager");
    assert_eq!(manager.attr.sub.as_deref(), Some("value"));
    for bad in ["", "emails[", "emails[type eq]", "a..b", "9lives", r#"emails[type eq "work"]value"#] {
        assert!(parse_patch_path(bad, FilterLimits::default()).is_err(), "{bad:?} should not parse");
    }
}

fn user() -> Value {
    json!({
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen-EXT",
        "userName": "Bjensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "manager": {"value": "m-1"}}
    })
}

fn matches(doc: &Value, text: &str) -> bool {
    let f = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let v = f.validate(&ResourceType::user(), ValidateOptions::default()).unwrap_or_else(|e| panic!("{text}: {e}"));
    v.matches(doc)
}

#[test]
fn evaluation_honours_types_case_rules_and_multi_valued_semantics() {
    let u = user();
    let cases: &[(&str, bool)] = &[
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"userName ne "other""#, true),
        (r#"userName sw "bjen""#, true),
        (r#"userName ew "EXAMPLE.COM""#, true),
        (r#"userName co "jensen@""#, true),
        (r#"userName co "nobody""#, false),
        (r#"userName gt "a""#, true),
        (r#"userName lt "a""#, false),
        (r#"externalId eq "Bjensen-EXT""#, true),
        (r#"externalId eq "bjensen-ext""#, false),
        (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (r#"name.familyName eq "jensen""#, true),
        (r#"name.middleName pr"#, false),
        (r#"name pr"#, true),
        (r#"title pr"#, true),
        (r#"nickName pr"#, false),
        (r#"nickName eq null"#, true),
        (r#"title eq null"#, false),
        (r#"title ne null"#, true),
        (r#"nickName ne "x""#, true),
        (r#"active eq true"#, true),
        (r#"active eq false"#, false),
        (r#"active ne false"#, true),
        (r#"emails eq "babs@jensen.org""#, true),
        (r#"emails.value eq "BABS@jensen.org""#, true),
        (r#"emails.type eq "home""#, true),
        (r#"emails[type eq "work"]"#, true),
        (r#"emails[type eq "work" and value eq "babs@jensen.org"]"#, false),
        (r#"emails[type eq "home" and value eq "babs@jensen.org"]"#, true),
        (r#"emails[type eq "work"].value ew "@example.com""#, true),
        (r#"emails[primary eq true].value eq "bjensen@example.com""#, true),
        (r#"emails[not (type eq "work")]"#, true),
        (r#"emails[type eq "other"]"#, false),
        (r#"phoneNumbers[type eq "work"]"#, true),
        (r#"addresses pr"#, false),
        (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T06:42:34+02:00""#, false),
        (r#"meta.lastModified le "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.created lt "2011-01-01T00:00:00Z""#, true),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, true),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m-1""#, true),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "m-1""#, true),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr"#, false),
        (r#"title pr and userName sw "b""#, true),
        (r#"title pr and userName sw "x""#, false),
        (r#"nickName pr or userName sw "b""#, true),
        (r#"not (title pr)"#, false),
        (r#"not (nickName pr) and active eq true"#, true),
        (r#"userName sw "x" or title eq "tour guide" and active eq true"#, true),
        (r#"(userName sw "x" or title eq "tour guide") and active eq false"#, false),
    ];
    for (text, expected) in cases {
        assert_eq!(matches(&u, text), *expected, "{text}");
    }
}

#[test]
fn validation_rejects_unknown_attributes_and_type_mismatches_by_name() {
    let users = ResourceType::user();
    let groups = ResourceType::group();
    let cases: &[(&ResourceType, &str, &str)] = &[
        (&users, r#"nosuch eq "x""#, "unknown attribute 'nosuch'"),
        (&users, r#"name.nosuch eq "x""#, "nosuch"),
        (
            &users,
            r#"employeeNumber eq "1""#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        ),
        (&users, r#"urn:example:ext:1.0:User:foo eq "x""#, "unknown schema"),
        (&users, r#"active gt true"#, "boolean"),
        (&users, r#"active eq "yes""#, "boolean"),
        (&users, r#"active eq "True""#, "entra"),
        (&users, r#"active co "t""#, "boolean"),
        (&users, r#"userName eq 5"#, "string"),
        (&users, r#"userName gt null"#, "null"),
        (&users, r#"meta.lastModified gt "yesterday""#, "RFC 3339"),
        (&users, r#"meta.lastModified gt 5"#, "dateTime"),
        (&users, r#"name eq "x""#, "complex"),
        (&users, r#"emails[nosuch eq "x"]"#, "emails.nosuch"),
        (&users, r#"emails[emails[type eq "x"]]"#, "nested"),
        (&users, r#"userName[value eq "x"]"#, "complex"),
        (&users, r#"emails[name.givenName eq "x"]"#, "sub-attributes"),
        (&groups, r#"userName eq "x""#, "Group"),
        (&groups, r#"members[nosuch eq "x"]"#, "members.nosuch"),
    ];
    for (rt, text, expected) in cases {
        let f = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        match f.validate(rt, ValidateOptions::default()) {
            Ok(_) => panic!("{text} validated"),
            Err(e) => assert!(e.to_string().contains(expected), "{text}: {e} (wanted {expected})"),
        }
    }
    // `pr` on a complex attribute is fine, and Entra's "True" is accepted when asked for.
    assert!(parse("name pr").unwrap().validate(&users, ValidateOptions::default()).is_ok());
    let lenient = parse(r#"active eq "True""#)
        .unwrap()
        .validate(&users, ValidateOptions { boolean_strings: true, ..Default::default() })
        .unwrap();
    assert!(lenient.coerced_boolean_strings);
    assert!(lenient.matches(&json!({"active": true})));
}

/// Found by `cargo fuzz run filter`: an integer literal beyond f64's exact range printed a
/// value that parsed back to a different float (serde_json's fast float parser is not
/// correctly rounded without `float_roundtrip`).
#[test]
fn fuzz_regression_huge_number_literals_round_trip() {
    let digits = format!("9{}", "7".repeat(121));
    let printed = round_trip(&format!(" vW  \tSw\t{digits}"));
    assert!(printed.starts_with("vW sw 9.7777"), "{printed}");
    round_trip("a gt 1e308");
    round_trip("a gt 0.1");
    round_trip("a gt -123456789012345678901234567890");
}

#[test]
fn case_insensitive_filter_values_are_lower_cased_once_at_validation() {
    let f = parse(r#"displayName co "ÉCOLE" and externalId eq "ABC""#).unwrap();
    let v = f.validate(&ResourceType::user(), ValidateOptions::default()).unwrap();
    let Expr::And(left, right) = &v.expr else { panic!("{:?}", v.expr) };
    let Expr::Compare { value, .. } = left.as_ref() else { panic!("{left:?}") };
    assert_eq!(value, &json!("école"), "caseExact false: folded once");
    let Expr::Compare { value, .. } = right.as_ref() else { panic!("{right:?}") };
    assert_eq!(value, &json!("ABC"), "externalId is caseExact: kept");
    let doc = json!({"displayName": "L'École du Nord", "externalId": "ABC"});
    assert!(v.matches(&doc));
}

#[test]
fn the_single_comparison_shortcut_reads_exactly_what_the_grammar_reads() {
    let paths = [
        "userName",
        "name.familyName",
        "emails.value",
        "x-y_1",
        "not",
        "and",
        "1abc",
        "a.b.c",
        "urn:x:User:userName",
        "$ref",
        "a..b",
        "",
    ];
    let ops = ["eq", "EQ", "Sw", "co", "ew", "ne", "gt", "le", "pr", "eqx", "in"];
    let values = [
        r#""bjensen""#,
        r#""""#,
        r#""a b""#,
        r#""O'Malley""#,
        r#""a\"b""#,
        r#""a\\b""#,
        "\"tab\there\"",
        r#""é ü""#,
        r#""x" and title pr"#,
        r#""a" "b""#,
        r#""unterminated"#,
        "42",
        "true",
        "null",
        r#"" spaced ""#,
    ];
    let gaps = [" ", "  ", "\t", ""];
    let mut shortcut_hits = 0;
    for path in paths {
        for op in ops {
            for value in values {
                for gap in gaps {
                    for edge in ["", " ", "\t "] {
                        let text = format!("{edge}{path}{gap}{op}{gap}{value}{edge}");
                        let grammar = build::parse_with_grammar(&text, FilterLimits::default());
                        if let Some(shortcut) = simple::simple_comparison(&text) {
                            shortcut_hits += 1;
                            assert_eq!(Ok(shortcut), grammar, "{text:?}");
                        }
                        assert_eq!(parse(&text), grammar, "{text:?}");
                    }
                }
            }
        }
    }
    // The shortcut must actually carry the common forms, or this test proves nothing.
    assert!(simple::simple_comparison(r#"userName eq "bjensen@example.com""#).is_some());
    assert!(shortcut_hits > 1000, "only {shortcut_hits} filters took the shortcut");
}
