//! From query text to SQL syntax: the filter is parsed as the WHERE clause of
//! `select * from table1 where <filter>`, in MySQL's dialect plus Temporal's `STARTS_WITH`,
//! exactly as Temporal's server wraps and parses it (so `... ORDER BY x`, `... LIMIT 1`, a
//! trailing `;` and MySQL comments mean what they mean there).
//!
//! This module owns the wrapping, the dialect, the length and nesting limits and the
//! "malformed SQL query" errors. It must never look at attribute names or values: it hands the
//! clauses on, untouched, to `resolve`.

use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, OrderByKind, OrderBySort, SetExpr, Statement,
};
use sqlparser::dialect::{Dialect, MySqlDialect, Precedence};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Clause, QueryError};

/// The longest query accepted, in bytes. Temporal has no limit of its own (only gRPC's 4 MiB
/// message size); 32 KiB is far above any filter a person or an SDK writes and keeps a
/// pathological query from costing more than a few milliseconds.
pub const MAX_QUERY_LEN: usize = 32 * 1024;

/// How deeply expressions may nest (parentheses, NOT, operators). Temporal's parser stops at
/// 200 levels ("max nesting level reached"); ours is sqlparser's own default, because its
/// recursive descent uses large frames and must fit a 2 MiB thread stack (a tokio worker's, a
/// test's) even in a debug build. Long flat AND/OR chains do not nest and are not limited.
pub const MAX_NESTING: usize = 40;

const PREFIX: &str = "select * from table1 ";

/// `STARTS_WITH` / `NOT STARTS_WITH`, carried as custom binary operators.
pub(crate) const STARTS_WITH: &str = "STARTS_WITH";
pub(crate) const NOT_STARTS_WITH: &str = "NOT STARTS_WITH";

/// The clauses of the wrapped SELECT that mean something to a list filter.
#[derive(Debug)]
pub(crate) struct Clauses {
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    /// Each ORDER BY key and whether it is descending.
    pub order_by: Vec<(Expr, bool)>,
    pub has_limit: bool,
}

pub(crate) fn parse(query: &str) -> Result<Clauses, QueryError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong {
            len: query.len(),
            max: MAX_QUERY_LEN,
        });
    }
    let trimmed = query.trim();
    let lower = trimmed.to_ascii_lowercase();
    let sql =
        if trimmed.is_empty() || lower.starts_with("order by") || lower.starts_with("group by") {
            format!("{PREFIX}{trimmed}")
        } else {
            format!("{PREFIX}where {trimmed}")
        };
    let dialect = TemporalDialect;
    check_tokens(&dialect, &sql)?;
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| malformed(&sql, e))?;
    // Moved out, never cloned: cloning a long AND/OR chain recurses once per operator.
    let (Some(Statement::Query(q)), None) = (statements.pop(), statements.pop()) else {
        return Err(QueryError::Malformed(syntax_error_at_end(&sql)));
    };
    let has_limit = q.limit_clause.is_some() || q.fetch.is_some();
    let q = *q;
    let SetExpr::Select(select) = *q.body else {
        return Err(QueryError::Malformed(syntax_error_at_end(&sql)));
    };
    let select = *select;
    // Temporal's parser accepts HAVING and its converter never looks at it; so it is ignored.
    let group_by = match select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs,
        _ => return Err(QueryError::ClauseNotSupported(Clause::GroupBy)),
    };
    let mut order_by = Vec::new();
    if let Some(ob) = q.order_by {
        let OrderByKind::Expressions(keys) = ob.kind else {
            return Err(QueryError::ClauseNotSupported(Clause::OrderBy));
        };
        for key in keys {
            let descending = match key.options.sort {
                None | Some(OrderBySort::Asc) => false,
                Some(OrderBySort::Desc) => true,
                Some(OrderBySort::Using(_)) => {
                    return Err(QueryError::ClauseNotSupported(Clause::OrderBy))
                }
            };
            order_by.push((key.expr, descending));
        }
    }
    Ok(Clauses {
        filter: select.selection,
        group_by,
        order_by,
        has_limit,
    })
}

/// Checks the tokens before sqlparser sees them (its tokenizer does not recurse).
///
/// Refuses, with Temporal's message, the two operators sqlparser knows and Temporal's grammar
/// does not (XOR, `==`). Estimates how deep sqlparser would recurse: an open parenthesis is one level, a prefix operator (NOT, !, -, +, ~) two, since
/// each costs sqlparser several large frames; a prefix operator's level ends at the next AND,
/// OR or comma of its group, as NOT binds tighter than those. sqlparser's own counter misses
/// prefix operators, and a debug build overflows a 2 MiB stack at about 30 nested NOTs.
fn check_tokens(dialect: &TemporalDialect, sql: &str) -> Result<(), QueryError> {
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize() else {
        // The parser reports the same problem, with its position.
        return Ok(());
    };
    let mut groups: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut after_operand = false;
    let mut position = 0usize;
    for t in &tokens {
        position += t.to_string().len();
        let word = |w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
        // Temporal's grammar has neither XOR nor `==`; sqlparser's has both.
        if word("XOR") {
            return Err(QueryError::Malformed(format!(
                "syntax error at position {} near 'xor'",
                position + 1
            )));
        }
        if *t == Token::DoubleEq {
            return Err(QueryError::Malformed(format!(
                "syntax error at position {}",
                position + 1
            )));
        }
        match t {
            Token::Whitespace(_) => continue,
            Token::LParen => {
                depth += 1;
                groups.push(depth);
                after_operand = false;
            }
            Token::RParen => {
                depth = groups.pop().map_or(0, |d| d.saturating_sub(1));
                if groups.is_empty() {
                    groups.push(0);
                }
                after_operand = true;
            }
            Token::Comma | Token::Overlap | Token::StringConcat => {
                depth = *groups.last().unwrap_or(&0);
                after_operand = false;
            }
            _ if word("AND") || word("OR") => {
                depth = *groups.last().unwrap_or(&0);
                after_operand = false;
            }
            Token::ExclamationMark | Token::Minus | Token::Plus | Token::Tilde
                if !after_operand =>
            {
                depth += 2;
            }
            _ if word("NOT") && !after_operand => depth += 2,
            Token::Word(w) => {
                after_operand = w.quote_style.is_some()
                    || w.keyword == sqlparser::keywords::Keyword::NoKeyword
                    || word("TRUE")
                    || word("FALSE")
                    || word("NULL");
            }
            _ => {
                after_operand = matches!(
                    t,
                    Token::Number(..) | Token::SingleQuotedString(_) | Token::DoubleQuotedString(_)
                );
            }
        }
        if depth > MAX_NESTING {
            return Err(QueryError::Malformed(format!(
                "max nesting level reached at position {position}"
            )));
        }
    }
    Ok(())
}

/// Temporal's parser reports where it stopped, as a byte position in the wrapped statement
/// (one past the offending token) and the token's text when it has one (words, literals).
/// sqlparser names the token and its line and column, so the same report is rebuilt from that.
fn malformed(sql: &str, e: ParserError) -> QueryError {
    let msg = match e {
        ParserError::RecursionLimitExceeded => {
            return QueryError::Malformed(format!(
                "max nesting level reached at position {}",
                sql.len() + 1
            ))
        }
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
    };
    let Some((head, at)) = msg.rsplit_once(" at Line: ") else {
        return QueryError::Malformed(syntax_error_at_end(sql));
    };
    let mut lc = at.split(", Column: ");
    let line: usize = lc.next().and_then(|l| l.trim().parse().ok()).unwrap_or(1);
    let column: usize = lc.next().and_then(|c| c.trim().parse().ok()).unwrap_or(1);
    let found = head.rsplit_once("found: ").map(|(_, f)| f).unwrap_or("");
    if found == "EOF" || found.is_empty() {
        return QueryError::Malformed(syntax_error_at_end(sql));
    }
    let start = byte_offset(sql, line, column);
    let position = start + found.len() + 1;
    let near = found.trim_matches(|c| c == '\'' || c == '"' || c == '`');
    let is_word = found
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || "_'\"`".contains(c));
    if is_word {
        let near = if is_keyword(near) {
            near.to_ascii_lowercase()
        } else {
            near.to_string()
        };
        QueryError::Malformed(format!("syntax error at position {position} near '{near}'"))
    } else {
        QueryError::Malformed(format!("syntax error at position {position}"))
    }
}

fn syntax_error_at_end(sql: &str) -> String {
    format!("syntax error at position {}", sql.len() + 1)
}

fn is_keyword(word: &str) -> bool {
    let upper = word.to_ascii_uppercase();
    sqlparser::keywords::ALL_KEYWORDS
        .binary_search(&upper.as_str())
        .is_ok()
}

/// sqlparser counts lines and columns (in characters) from 1.
fn byte_offset(sql: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in sql.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset
                + l.chars()
                    .take(column.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum::<usize>();
        }
        offset += l.len();
    }
    sql.len()
}

/// MySQL's dialect with Temporal's `STARTS_WITH` operator, at the precedence of `=` as in
/// Temporal's grammar. Every other question goes to MySQL's dialect.
#[derive(Debug)]
struct TemporalDialect;

impl TemporalDialect {
    fn is_starts_with(t: &Token) -> bool {
        matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(STARTS_WITH))
    }

    fn is_not(t: &Token) -> bool {
        matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("NOT"))
    }
}

impl Dialect for TemporalDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        MySqlDialect {}.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        MySqlDialect {}.is_identifier_part(ch)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        MySqlDialect {}.is_delimited_identifier_start(ch)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        MySqlDialect {}.identifier_quote_style(identifier)
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }

    fn supports_numeric_prefix(&self) -> bool {
        true
    }

    /// MySQL's `# comment`.
    fn supports_hash_comment(&self) -> bool {
        true
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        let next = parser.peek_token();
        // MySQL's `&&` and `||` are AND and OR (Temporal's grammar has them too).
        match next.token {
            Token::Overlap => return Some(Ok(self.prec_value(Precedence::And))),
            Token::StringConcat => return Some(Ok(self.prec_value(Precedence::Or))),
            _ => {}
        }
        let starts_with = Self::is_starts_with(&next.token)
            || (Self::is_not(&next.token) && Self::is_starts_with(&parser.peek_nth_token(1).token));
        starts_with.then(|| Ok(self.prec_value(Precedence::Eq)))
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        let next = parser.peek_token();
        let logical = match next.token {
            Token::Overlap => Some(BinaryOperator::And),
            Token::StringConcat => Some(BinaryOperator::Or),
            _ => None,
        };
        if let Some(op) = logical {
            parser.next_token();
            return Some(
                parser
                    .parse_subexpr(precedence)
                    .map(|right| Expr::BinaryOp {
                        left: Box::new(expr.clone()),
                        op,
                        right: Box::new(right),
                    }),
            );
        }
        let op = if Self::is_starts_with(&next.token) {
            parser.next_token();
            STARTS_WITH
        } else if Self::is_not(&next.token) && Self::is_starts_with(&parser.peek_nth_token(1).token)
        {
            parser.next_token();
            parser.next_token();
            NOT_STARTS_WITH
        } else {
            return None;
        };
        Some(
            parser
                .parse_subexpr(precedence)
                .map(|right| Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op: BinaryOperator::Custom(op.to_string()),
                    right: Box::new(right),
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(q: &str) -> String {
        parse(q)
            .unwrap()
            .filter
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    fn error(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }

    #[test]
    fn wraps_the_filter_as_a_where_clause() {
        assert_eq!(filter("WorkflowId = 'a'"), "WorkflowId = 'a'");
        assert_eq!(filter("  WorkflowId = 'a'  "), "WorkflowId = 'a'");
        assert_eq!(filter("WorkflowId = 'a';"), "WorkflowId = 'a'");
        assert_eq!(filter(""), "");
        assert_eq!(filter("   "), "");
    }

    #[test]
    fn starts_with_is_an_operator_at_comparison_precedence() {
        let e = parse("WorkflowId STARTS_WITH 'a' AND NOT RunId NOT STARTS_WITH 'b'").unwrap();
        let text = e.filter.unwrap().to_string();
        assert_eq!(
            text,
            "WorkflowId STARTS_WITH 'a' AND NOT RunId NOT STARTS_WITH 'b'"
        );
        assert!(parse("WorkflowId starts_with 'a'").is_ok());
    }

    #[test]
    fn group_by_and_order_by_alone_or_after_a_filter() {
        let c = parse("GROUP BY ExecutionStatus").unwrap();
        assert!(c.filter.is_none());
        assert_eq!(c.group_by.len(), 1);
        let c = parse("order by StartTime desc, RunId").unwrap();
        assert_eq!(c.order_by.len(), 2);
        assert!(c.order_by[0].1 && !c.order_by[1].1);
        let c = parse("WorkflowId = 'a' GROUP BY ExecutionStatus ORDER BY StartTime").unwrap();
        assert!(c.filter.is_some() && c.group_by.len() == 1 && c.order_by.len() == 1);
        assert!(parse("WorkflowId = 'a' LIMIT 10").unwrap().has_limit);
    }

    #[test]
    fn syntax_errors_report_temporals_position() {
        // Positions are in "select * from table1 where <query>", as Temporal reports them.
        assert_eq!(
            error("WorkflowId ="),
            "invalid query: malformed SQL query: syntax error at position 40"
        );
        assert_eq!(
            error("WorkflowId IN ()"),
            "invalid query: malformed SQL query: syntax error at position 44"
        );
        assert!(error("select * from x")
            .starts_with("invalid query: malformed SQL query: syntax error at position"));
        assert!(error("AND WorkflowId = 'wf-1'")
            .starts_with("invalid query: malformed SQL query: syntax error at position"));
    }

    #[test]
    fn limits() {
        let long = format!("WorkflowId = '{}'", "a".repeat(MAX_QUERY_LEN));
        assert!(matches!(parse(&long), Err(QueryError::TooLong { .. })));
        let deep = format!("{}WorkflowId = 'a'{}", "(".repeat(500), ")".repeat(500));
        assert!(matches!(parse(&deep), Err(QueryError::Malformed(_))));
        let nots = format!("{}WorkflowId = 'a'", "NOT ".repeat(500));
        assert!(matches!(parse(&nots), Err(QueryError::Malformed(_))));
        // Right at the limit, in every mix, the parser must answer rather than overflow.
        for pattern in ["(", "NOT ", "NOT (", "! ", "-", "NOT NOT (", "((NOT "] {
            for n in 1..60 {
                let q = format!(
                    "{}WorkflowId = 'a'{}",
                    pattern.repeat(n),
                    ")".repeat(n * pattern.matches('(').count())
                );
                let _ = parse(&q);
            }
        }
        // Flat chains are not nesting, however long.
        let chain = vec!["NOT WorkflowId = 'a'"; 1000].join(" AND ");
        assert!(parse(&chain).is_ok());
        let ors = vec!["WorkflowId = 'a'"; 1500].join(" OR ");
        assert!(parse(&ors).is_ok());
        // The longest chain that fits the length limit.
        let ors = vec!["a"; MAX_QUERY_LEN / 5].join(" OR ");
        assert!(parse(&ors).is_ok());
    }
}
