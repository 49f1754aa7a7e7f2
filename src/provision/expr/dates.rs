//! Date handling for the expression language: Entra's lenient input parsing, its output
//! format `M/d/yyyy h:mm:ss tt` (UTC), and .NET custom format strings for FormatDateTime.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Entra's date output: `3/23/2012 7:00:00 AM` (UTC).
pub fn entra_format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let (h12, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!("{}/{}/{} {}:{:02}:{:02} {}", u8::from(t.month()), t.day(), t.year(), h12, t.minute(), t.second(), ampm)
}

/// Parses the date forms Entra's CDate accepts: ISO 8601 with or without time and offset
/// (`2009-06-15T01:45:30-07:00`, `2021-06-30+08:00`, `2020-03-16-07:00`, `2021-08-24`),
/// `M/d/yyyy h:mm:ss tt`, and `yyyyMMddHHmmss.fZ` (LDAP generalized time).
pub fn parse_any(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    parse_us(s).or_else(|| parse_iso_loose(s)).or_else(|| parse_dotnet(s, "yyyyMMddHHmmss.fZ"))
}

fn num(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// Builds a timestamp from calendar date `(year, month, day)`, clock `(hour, minute,
/// second, nanosecond)` and a UTC offset in seconds.
fn build(
    (y, mo, d): (i64, i64, i64),
    (h, mi, sec, nanos): (i64, i64, i64, u32),
    offset_secs: i64,
) -> Option<OffsetDateTime> {
    let date = Date::from_calendar_date(
        i32::try_from(y).ok()?,
        Month::try_from(u8::try_from(mo).ok()?).ok()?,
        u8::try_from(d).ok()?,
    )
    .ok()?;
    let time =
        Time::from_hms_nano(u8::try_from(h).ok()?, u8::try_from(mi).ok()?, u8::try_from(sec).ok()?, nanos).ok()?;
    let offset = UtcOffset::from_whole_seconds(i32::try_from(offset_secs).ok()?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// `M/d/yyyy[ h:mm[:ss][ AM|PM]]`
fn parse_us(s: &str) -> Option<OffsetDateTime> {
    let mut parts = s.split_whitespace();
    let date = parts.next()?;
    let fields: Vec<&str> = date.split('/').collect();
    if fields.len() != 3 {
        return None;
    }
    let (mo, d, y) = (num(fields[0])?, num(fields[1])?, num(fields[2])?);
    let (mut h, mut mi, mut sec) = (0, 0, 0);
    if let Some(clock) = parts.next() {
        let hms: Vec<&str> = clock.split(':').collect();
        h = num(hms.first()?)?;
        mi = hms.get(1).and_then(|v| num(v)).unwrap_or(0);
        sec = hms.get(2).and_then(|v| num(v)).unwrap_or(0);
        match parts.next().map(|p| p.to_ascii_uppercase()) {
            Some(p) if p == "PM" && h < 12 => h += 12,
            Some(p) if p == "AM" && h == 12 => h = 0,
            _ => {}
        }
    }
    build((y, mo, d), (h, mi, sec, 0), 0)
}

/// `yyyy-MM-dd[Thh:mm[:ss[.fff]]][Z|±hh:mm]`, also with a space instead of `T`.
fn parse_iso_loose(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    let mut rest = &s[10..];
    let (mut h, mut mi, mut sec, mut nanos) = (0, 0, 0, 0u32);
    if rest.starts_with('T') || rest.starts_with(' ') {
        let clock_end = rest[1..].find(['Z', '+', '-']).map(|i| i + 1).unwrap_or(rest.len());
        let clock = &rest[1..clock_end];
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let parts: Vec<&str> = hms.split(':').collect();
        h = num(parts.first()?)?;
        mi = parts.get(1).and_then(|v| num(v)).unwrap_or(0);
        sec = parts.get(2).and_then(|v| num(v)).unwrap_or(0);
        if !frac.is_empty() {
            let digits: String = frac.chars().take(9).collect();
            nanos = format!("{digits:0<9}").parse().ok()?;
        }
        rest = &rest[clock_end..];
    }
    let offset = parse_offset(rest)?;
    build((y, mo, d), (h, mi, sec, nanos), offset)
}

/// `""`, `Z`, `+08:00`, `-0700`, `+08`.
fn parse_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s == "Z" || s == "z" {
        return Some(0);
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| c.is_ascii_digit()).collect();
    let (hh, mm) = match digits.len() {
        2 => (num(&digits)?, 0),
        4 => (num(&digits[0..2])?, num(&digits[2..4])?),
        _ => return None,
    };
    Some(sign * (hh * 3600 + mm * 60))
}

/// One token of a .NET custom date format.
#[derive(Debug, PartialEq)]
enum Token {
    Field(char, usize),
    Literal(String),
}

fn tokenize(format: &str) -> Vec<Token> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            'y' | 'M' | 'd' | 'H' | 'h' | 'm' | 's' | 'f' | 'F' | 't' | 'z' | 'K' => {
                let mut n = 1;
                while i + n < chars.len() && chars[i + n] == c {
                    n += 1;
                }
                out.push(Token::Field(c, n));
                i += n;
            }
            '\'' | '"' => {
                let end = chars[i + 1..].iter().position(|x| *x == c).map(|p| i + 1 + p).unwrap_or(chars.len());
                out.push(Token::Literal(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '\\' if i + 1 < chars.len() => {
                out.push(Token::Literal(chars[i + 1].to_string()));
                i += 2;
            }
            other => {
                out.push(Token::Literal(other.to_string()));
                i += 1;
            }
        }
    }
    out
}

/// Parses `s` with a .NET custom format (`yyyyMMddHHmmss.fZ`, `yyyy-MM-dd`, `dd/MM/yyyy HH:mm`).
pub fn parse_dotnet(s: &str, format: &str) -> Option<OffsetDateTime> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec, mut nanos, mut offset, mut pm) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0u32, 0i64, None);
    let take_digits = |pos: &mut usize, min: usize, max: usize| -> Option<i64> {
        let start = *pos;
        while *pos < chars.len() && *pos - start < max && chars[*pos].is_ascii_digit() {
            *pos += 1;
        }
        if *pos - start < min {
            return None;
        }
        chars[start..*pos].iter().collect::<String>().parse().ok()
    };
    for token in tokenize(format) {
        match token {
            Token::Literal(lit) => {
                for c in lit.chars() {
                    let matches = pos < chars.len() && (chars[pos] == c || (c == 'Z' && chars[pos] == 'z'));
                    if matches {
                        pos += 1;
                    } else {
                        return None;
                    }
                }
            }
            Token::Field(c, n) => match c {
                'y' => y = take_digits(&mut pos, n.min(4), if n <= 2 { 2 } else { 4 })?,
                'M' => mo = take_digits(&mut pos, n.min(2), 2)?,
                'd' => d = take_digits(&mut pos, n.min(2), 2)?,
                'H' | 'h' => h = take_digits(&mut pos, n.min(2), 2)?,
                'm' => mi = take_digits(&mut pos, n.min(2), 2)?,
                's' => sec = take_digits(&mut pos, n.min(2), 2)?,
                'f' | 'F' => {
                    let start = pos;
                    let v = take_digits(&mut pos, if c == 'f' { n } else { 0 }, n)?;
                    let digits = pos - start;
                    nanos = (v as u64 * 10u64.pow(9u32.saturating_sub(digits as u32))) as u32;
                }
                't' => {
                    let word: String = chars[pos..].iter().take(2).collect::<String>().to_ascii_uppercase();
                    pm = Some(word.starts_with('P'));
                    pos += n.min(2);
                }
                'z' | 'K' => {
                    let rest: String = chars[pos..].iter().collect();
                    let len = rest
                        .find(|ch: char| !(ch.is_ascii_digit() || ch == '+' || ch == '-' || ch == ':' || ch == 'Z'))
                        .unwrap_or(rest.len());
                    offset = parse_offset(&rest[..len])?;
                    pos += len;
                }
                _ => return None,
            },
        }
    }
    if pos != chars.len() {
        return None;
    }
    if let Some(pm) = pm {
        if pm && h < 12 {
            h += 12;
        } else if !pm && h == 12 {
            h = 0;
        }
    }
    if y < 100 {
        y += 2000;
    }
    build((y, mo, d), (h, mi, sec, nanos), offset)
}

/// Formats with a .NET custom format string.
pub fn format_dotnet(t: OffsetDateTime, format: &str) -> String {
    let mut out = String::new();
    for token in tokenize(format) {
        match token {
            Token::Literal(l) => out.push_str(&l),
            Token::Field(c, n) => {
                let s = match (c, n) {
                    ('y', 1) => (t.year() % 100).to_string(),
                    ('y', 2) => format!("{:02}", t.year() % 100),
                    ('y', _) => format!("{:0width$}", t.year(), width = n),
                    ('M', 1) => u8::from(t.month()).to_string(),
                    ('M', 2) => format!("{:02}", u8::from(t.month())),
                    ('M', 3) => format!("{:?}", t.month()).chars().take(3).collect(),
                    ('M', _) => format!("{:?}", t.month()),
                    ('d', 1) => t.day().to_string(),
                    ('d', 2) => format!("{:02}", t.day()),
                    ('d', 3) => format!("{:?}", t.weekday()).chars().take(3).collect(),
                    ('d', _) => format!("{:?}", t.weekday()),
                    ('H', 1) => t.hour().to_string(),
                    ('H', _) => format!("{:02}", t.hour()),
                    ('h', m) => {
                        let h = match t.hour() % 12 {
                            0 => 12,
                            v => v,
                        };
                        if m == 1 {
                            h.to_string()
                        } else {
                            format!("{h:02}")
                        }
                    }
                    ('m', 1) => t.minute().to_string(),
                    ('m', _) => format!("{:02}", t.minute()),
                    ('s', 1) => t.second().to_string(),
                    ('s', _) => format!("{:02}", t.second()),
                    ('f', m) | ('F', m) => {
                        let digits = format!("{:09}", t.nanosecond());
                        let mut s: String = digits.chars().take(m.min(9)).collect();
                        if c == 'F' {
                            s = s.trim_end_matches('0').to_string();
                        }
                        s
                    }
                    ('t', 1) => if t.hour() < 12 { "A" } else { "P" }.to_string(),
                    ('t', _) => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
                    ('z', m) | ('K', m) => {
                        let secs = t.offset().whole_seconds();
                        let sign = if secs < 0 { '-' } else { '+' };
                        let (hh, mm) = (secs.abs() / 3600, (secs.abs() % 3600) / 60);
                        match (c, m) {
                            ('K', _) if secs == 0 => "Z".to_string(),
                            ('z', 1) => format!("{sign}{hh}"),
                            ('z', 2) => format!("{sign}{hh:02}"),
                            _ => format!("{sign}{hh:02}:{mm:02}"),
                        }
                    }
                    _ => String::new(),
                };
                out.push_str(&s);
            }
        }
    }
    out
}
