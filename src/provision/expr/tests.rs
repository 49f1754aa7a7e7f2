//! Every documented example of docs/entra-behaviour.md §3.2, one line each.

use rand::SeedableRng;
use serde_json::{json, Value};
use time::macros::datetime;

use super::*;

fn eval_with(text: &str, source: Value) -> Result<Val, ExprError> {
    let program = Program::compile(text)?;
    let map = source.as_object().cloned().unwrap_or_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut ctx = EvalContext {
        source: &map,
        now: datetime!(2021-07-02 15:33:38 UTC),
        rng: &mut rng,
        default_domain: "contoso.com",
        taken: None,
        redacted: false,
    };
    program.evaluate(&mut ctx)
}

fn ev(text: &str, source: Value) -> String {
    match eval_with(text, source) {
        Ok(v) => v.to_string(),
        Err(e) => panic!("{text}: {e}"),
    }
}

fn user() -> Value {
    json!({
        "userPrincipalName": "John.Doe@contoso.com",
        "givenName": "John",
        "surname": "Doe",
        "mail": "jdoe@contoso.com",
        "preferredLanguage": "EN-US",
        "country": "USA",
        "state": "QLD",
        "department": "Sales",
        "IsSoftDeleted": false,
        "accountEnabled": true,
        "proxyAddresses": ["SMTP:john@contoso.com", "smtp:jd@contoso.com", "SMTP:john@contoso.com"],
        "StatusHireDate": "2012-03-16-07:00",
        "extensionAttribute1": "20150123105347.1Z",
        "extensionAttribute5": "PermissionSetOne, PermissionSetTwo",
        "telephoneNumber": "+91 9998887777",
        "mobile": "+1 (999) 888-7777",
        "objectId": "a1b2",
        "appRoleAssignments": [{"value": "Admin", "displayName": "Administrator"}, {"value": "User"}],
        "passwordProfile": {"password": "s3cret"}
    })
}

#[test]
fn documented_examples_evaluate_as_entra_does() {
    let u = user();
    let cases: &[(&str, &str)] = &[
        (r#"Append([userPrincipalName], ".test")"#, "John.Doe@contoso.com.test"),
        (r#"BitAnd(&HF, &HF7)"#, "7"),
        (r#"CBool([givenName] = [givenName])"#, "True"),
        (r#"CBool([givenName] = [surname])"#, "False"),
        (r#"CDate("2021-06-30+08:00")"#, "6/29/2021 4:00:00 PM"),
        (r#"CDate("2009-06-15T01:45:30-07:00")"#, "6/15/2009 8:45:30 AM"),
        (r#"CDate("2020-03-16-07:00")"#, "3/16/2020 7:00:00 AM"),
        (r#"Coalesce([nosuch], [userPrincipalName])"#, "John.Doe@contoso.com"),
        (r#"Coalesce([nosuch], [other], "fallback")"#, "fallback"),
        (r#"ConvertToBase64("Hello world!")"#, "SABlAGwAbABvACAAdwBvAHIAbABkACEA"),
        (r#"ConvertToUTF8Hex("Hello world!")"#, "48656C6C6F20776F726C6421"),
        (r#"Count([proxyAddresses])"#, "3"),
        (r#"CStr([objectId])"#, "a1b2"),
        (r#"DateAdd("d", 7, CDate([StatusHireDate]))"#, "3/23/2012 7:00:00 AM"),
        (r#"DateAdd("ww", 2, CDate([StatusHireDate]))"#, "3/30/2012 7:00:00 AM"),
        (r#"DateAdd("m", 10, CDate([StatusHireDate]))"#, "1/16/2013 7:00:00 AM"),
        (r#"DateAdd("yyyy", 2, CDate([StatusHireDate]))"#, "3/16/2014 7:00:00 AM"),
        (r#"DateAdd("d", -10, CDate([StatusHireDate]))"#, "3/6/2012 7:00:00 AM"),
        (r#"DateDiff("d", "2021-08-18+08:00", "2021-08-31+08:00")"#, "13"),
        (r#"DateDiff("h", "2021-08-24", "2021-08-25")"#, "24"),
        (r#"DateDiff("n", "2021-08-24", "2021-08-25")"#, "1440"),
        (r#"DateDiff("s", "2021-08-24", "2021-08-25")"#, "86400"),
        (r#"DateDiff("yyyy", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")"#, "-9"),
        (r#"DateDiff("m", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")"#, "-113"),
        (r#"DateDiff("ww", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")"#, "-493"),
        (r#"DateDiff("d", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")"#, "-3449"),
        (r#"DateFromNum(129699324000000000)"#, "1/1/2012 11:00:00 PM"),
        (r#"NumFromDate("2012-01-01T23:00:00Z")"#, "129699324000000000"),
        (r#"FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")"#, "2015-01-23"),
        (r#"IgnoreFlowIfNullOrEmpty([department])"#, "Sales"),
        (r#"IgnoreFlowIfNullOrEmpty("")"#, "null"),
        (r#"IIF([country]="USA",[country],[department])"#, "USA"),
        (r#"IIF([country]="FR",[country],[department])"#, "Sales"),
        (r#"IIF([country]="USA",IIF([state]="CA","True","False"),"False")"#, "False"),
        (r#"IIF([country]="USA","True",IIF([state]="CA","True","False"))"#, "True"),
        (r#"IIF([nosuch]="x","yes","no")"#, "no"),
        (r#"InStr("The quick brown fox","quick")"#, "5"),
        (r#"InStr("repEated","e",3,vbBinaryCompare)"#, "7"),
        (r#"InStr("repEated","e",3,vbTextCompare)"#, "4"),
        (r#"InStr("abc","z")"#, "0"),
        (r#"IsNull([nosuch])"#, "True"),
        (r#"IsNull([givenName])"#, "False"),
        (r#"IsNullOrEmpty("")"#, "True"),
        (r#"IsPresent([givenName])"#, "True"),
        (r#"IsPresent([nosuch])"#, "False"),
        (r#"IsString([givenName])"#, "True"),
        (r#"Item([proxyAddresses], 1)"#, "SMTP:john@contoso.com"),
        (r#"Item([proxyAddresses], 2)"#, "smtp:jd@contoso.com"),
        (r#"Join(", ", "", [surname], [givenName])"#, "Doe, John"),
        (r#"Join(" ", [givenName], [surname])"#, "John Doe"),
        (r#"Join("", 1000, "x")"#, "1000x"),
        (r#"Left("John Doe", 3)"#, "Joh"),
        (r#"Left("John Doe", 0)"#, ""),
        (r#"Left("John Doe", -1)"#, "John Doe"),
        (r#"Left("John Doe", 30)"#, "John Doe"),
        (r#"Left([nosuch], 3)"#, ""),
    ];
    for (text, expected) in cases {
        assert_eq!(ev(text, u.clone()), *expected, "{text}");
    }
}

#[test]
fn documented_examples_evaluate_as_entra_does_from_mid_on() {
    let u = user();
    let cases: &[(&str, &str)] = &[
        (r#"Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))"#, "JohDoe"),
        (r#"Mid("abcdef", 5, 10)"#, "ef"),
        (r#"NormalizeDiacritics("Zoë")"#, "Zoe"),
        (r#"NormalizeDiacritics("İstanbul Ǣsir ǟnd Đorđe Œuvre")"#, "Istanbul AEsir and Dorde OEuvre"),
        (r#"ToLower("DİYARBAKIR", "tr-TR")"#, "diyarbakır"),
        (r#"ToUpper("istanbul ılık", "tr-TR")"#, "İSTANBUL ILIK"),
        (r#"ToLower("TITLE", "en-US")"#, "title"),
        // .NET lookaround: the digits that follow a plus sign.
        (r#"Replace("+44 20 7946", , "(?<=\+)\d+", , "00", , )"#, "+00 20 7946"),
        (r#"NormalizeDiacritics("Ærøskøbing Straße Łódź")"#, "AEroeskoebing Strasse Lodz"),
        (r#"Not([IsSoftDeleted])"#, "True"),
        (r#"Not("True")"#, "False"),
        (r#"Now()"#, "7/2/2021 3:33:38 PM"),
        (r#"PCase("PABLO GONSALVES (SECOND)")"#, "Pablo Gonsalves (Second)"),
        (r#"PCase("PINTO-DE'SILVA"," '-")"#, "Pinto-De'Silva"),
        (r#"Redact([givenName])"#, "John"),
        (r#"RemoveDuplicates([proxyAddresses])"#, "[SMTP:john@contoso.com, smtp:jd@contoso.com]"),
        (r#"Replace([preferredLanguage], "-", , , "_", , )"#, "EN_US"),
        (r#"Replace([mail], "@contoso.com", , ,"", ,)"#, "jdoe"),
        (r#"Replace([givenName], "<username>", , , , , "<username>@contoso.com")"#, "John@contoso.com"),
        (
            r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )"#,
            "9998887777",
        ),
        (r#"Replace([mobile], , "[()\\s-]+", , "", , )"#, "+19998887777"),
        (r#"Replace("545 Tremont Street", ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )"#, "888 Tremont Street"),
        (r#"Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )"#, "John.Doe"),
        (
            r#"Replace([nosuch], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , "+91 8887779999", )"#,
            "8887779999",
        ),
        (r#"Replace("john_doe72", , "[a-zA-Z_]*", , "", , )"#, "72"),
        (
            r#"SelectUniqueValue(Join("@", [givenName], "contoso.com"), Join("@", [surname], "contoso.com"))"#,
            "John@contoso.com",
        ),
        (r#"SingleAppRoleAssignment([appRoleAssignments])"#, "Admin"),
        (r#"Split([extensionAttribute5], ",")"#, "[PermissionSetOne, PermissionSetTwo]"),
        (r#"StripSpaces("a b  c")"#, "abc"),
        (
            r#"Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")"#,
            "Australia/Brisbane",
        ),
        (
            r#"Switch("XX", "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane")"#,
            "Australia/Sydney",
        ),
        (r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#, "True"),
        (r#"Switch(ToLower("TRUE"), "0", "true", "1", "false", "0")"#, "1"),
        (r#"Switch([nosuch], "Default Value", "true", "1", "", "0")"#, "0"),
        (r#"Switch(IsPresent([jobTitle]), "DefaultValue", "True", [jobTitle])"#, "DefaultValue"),
        (
            r#"ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", "Jöhn ", "Smíth"))), "contoso.com"))"#,
            "john.smith@contoso.com",
        ),
        (r#"ToUpper([givenName])"#, "JOHN"),
        (r#"Word("The quick brown fox",3," ")"#, "brown"),
        (r#"Word("This,string!has&many separators",3,",!&#")"#, "has"),
        (r#"Word("a b",5," ")"#, ""),
        (r#"DefaultDomain()"#, "contoso.com"),
        (r#"Prepend("x-", [givenName])"#, "x-John"),
        (r#"IsNothing([nosuch])"#, "True"),
        (r#"[passwordProfile.password]"#, "s3cret"),
        (r#""Company name: \"Contoso\"""#, r#"Company name: "Contoso""#),
        (r#"Join("", 1000, Replace(ConvertToUTF8Hex([objectId]), , "[a-zA-Z_]*", , "", , ))"#, "100061316232"),
    ];
    for (text, expected) in cases {
        assert_eq!(ev(text, u.clone()), *expected, "{text}");
    }
}

#[test]
fn complex_and_random_functions() {
    let u = user();
    let roles = eval_with("AppRoleAssignmentsComplex([appRoleAssignments])", u.clone()).unwrap();
    assert_eq!(
        roles,
        Val::Json(json!([
            {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"},
            {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"}
        ]))
    );
    let guid = ev("Guid()", u.clone());
    assert!(uuid::Uuid::parse_str(&guid).is_ok(), "{guid}");
    assert_eq!(ev("Guid()", u.clone()), guid, "seeded randomness is reproducible");
    let random = ev("RandomString(6,3,0,0,3)", u.clone());
    assert_eq!(random.len(), 6);
    assert!(random.chars().filter(char::is_ascii_digit).count() >= 3, "{random}");
    assert!(random.chars().filter(char::is_ascii_lowercase).count() >= 3, "{random}");
    let avoid = ev("RandomString(10,2,2,2,1,\"?,\")", u.clone());
    assert_eq!(avoid.chars().count(), 10);
    assert!(!avoid.contains('?') && !avoid.contains(','), "{avoid}");
    let ctx_taken = |taken: &dyn Fn(&str) -> bool| {
        let program = Program::compile(r#"SelectUniqueValue("a@x", "b@x", "c@x")"#).unwrap();
        let map = serde_json::Map::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut ctx = EvalContext {
            source: &map,
            now: datetime!(2021-01-01 0:00 UTC),
            rng: &mut rng,
            default_domain: "x",
            taken: Some(taken),
            redacted: false,
        };
        program.evaluate(&mut ctx)
    };
    assert_eq!(ctx_taken(&|v: &str| v == "a@x").unwrap(), Val::str("b@x"));
    assert!(ctx_taken(&|_: &str| true).is_err());
}

#[test]
fn compile_errors_name_the_problem_and_its_column() {
    let cases: &[(&str, &str)] = &[
        ("join(\",\", [a])", "case-sensitive: did you mean Join?"),
        ("Frobnicate([a])", "unknown function 'Frobnicate'"),
        ("Left(\"x\")", "Left takes 2 argument(s), 1 given"),
        ("Mid([a], 1, 2, 3)", "Mid takes 3 argument(s), 4 given"),
        ("Join(\",\", [a]", "column"),
        ("[unterminated", "column"),
        ("\"open string", "column"),
        ("Append([a],, )", "Append"),
        ("", "column 1"),
    ];
    for (text, expected) in cases {
        match Program::compile(text) {
            Ok(p) => panic!("{text:?} compiled as {:?}", p.expr()),
            Err(e) => assert!(e.to_string().contains(expected), "{text:?}: {e} (wanted {expected})"),
        }
    }
    let nested = Program::compile("ToUpper(Left([x], 0, 1))").unwrap_err();
    assert_eq!(nested.column, 9, "{nested}");
    assert!(Program::compile(&format!("\"{}\"", "x".repeat(10_001))).is_err());
    assert!(Program::compile(&format!("{}[a]{}", "ToUpper(".repeat(200), ")".repeat(200))).is_err());
}

#[test]
fn evaluation_errors_are_reported_not_panicked() {
    let u = user();
    for text in [
        "Item([proxyAddresses], 0)",
        "CDate(\"not a date\")",
        "Replace([givenName], , \"(\", , \"x\", , )",
        "DateAdd(\"q\", 1, \"2020-01-01\")",
        "Left(\"x\", \"y\")",
    ] {
        assert!(eval_with(text, u.clone()).is_err(), "{text}");
    }
}

#[test]
fn expressions_print_canonically_and_list_their_attributes() {
    let p = Program::compile(r#"Replace([mail],"@contoso.com", , ,"", ,)"#).unwrap();
    assert_eq!(p.expr().to_string(), r#"Replace([mail], "@contoso.com", , , "", , )"#);
    assert_eq!(Program::compile(&p.expr().to_string()).unwrap().expr(), p.expr());
    let q = Program::compile(r#"IIF([country]="USA", Join(" ", [givenName], [surname]), [mail])"#).unwrap();
    assert_eq!(q.attributes(), ["country", "givenName", "surname", "mail"]);
    assert!(q.uses("Join") && !q.uses("Redact"));
}

#[test]
fn replace_patterns_are_checked_when_the_expression_compiles() {
    let err = Program::compile(r#"Replace([mail], , "(?<open", , "", , )"#).unwrap_err();
    assert!(err.message.contains("is not supported"), "{err}");
    assert!(Program::compile(r#"Replace([mail], , "(?<=@)\w+", , "x", , )"#).is_ok(), "lookbehind is .NET and fine");
}
