//! From SQL syntax to a typed query: resolves every attribute name against a namespace's search
//! attributes, checks each operator against the attribute's type, and converts each value to
//! that type (datetimes to nanoseconds, statuses by name or number, durations to nanoseconds).
//!
//! This module owns Temporal's validation rules and their order (LIMIT, then the filter left to
//! right, then GROUP BY, then ORDER BY), so that a query with several problems earns the error
//! Temporal reports. It must never evaluate anything against rows.

use sqlparser::ast::{BinaryOperator, Expr as Sql, InTarget, UnaryOperator, Value};

use crate::ast::{CompareOp, Expr, Literal, OrderBy, Query};
use crate::attributes::{
    group_by_allowed, Attribute, Field, IndexedValueType, SearchAttributes, SystemField,
    NAMESPACE_DIVISION,
};
use crate::datetime::UnixNanos;
use crate::duration::parse_execution_duration;
use crate::error::{Clause, GoLiteral, QueryError};
use crate::parse::{self, NOT_STARTS_WITH, STARTS_WITH};
use crate::status::ExecutionStatus;

/// How the caller will use the query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Temporal's SQL visibility stores (the dev server's included) refuse ORDER BY; its
    /// Elasticsearch store accepts it. Off by default, like the dev server.
    pub allow_order_by: bool,
}

impl Query {
    /// Parses and validates `text` for `attributes`, as ListWorkflowExecutions and
    /// CountWorkflowExecutions do. GROUP BY is validated here for both (Temporal's List accepts
    /// `GROUP BY ExecutionStatus` and ignores it); only Count uses it.
    pub fn parse(
        text: &str,
        attributes: &SearchAttributes,
        options: Options,
    ) -> Result<Query, QueryError> {
        let clauses = parse::parse(text)?;
        if clauses.has_limit {
            return Err(QueryError::ClauseNotSupported(Clause::Limit));
        }
        let mut r = Resolver {
            attributes,
            names_namespace_division: false,
        };
        let filter = clauses
            .filter
            .as_ref()
            .map(|e| r.condition(e))
            .transpose()?;
        if clauses.group_by.len() > 1 {
            return Err(QueryError::GroupByManyFields);
        }
        let mut group_by = Vec::new();
        for g in &clauses.group_by {
            let attr = r.attribute(g)?;
            if !group_by_allowed(&attr) {
                return Err(QueryError::GroupByNotAllowed(attr.alias));
            }
            group_by.push(attr);
        }
        let mut order_by = Vec::new();
        for (key, descending) in &clauses.order_by {
            let attr = r.attribute(key)?;
            if attr.ty == IndexedValueType::Text {
                return Err(QueryError::OrderByText(attr.ty));
            }
            order_by.push(OrderBy {
                attr,
                descending: *descending,
            });
        }
        if !order_by.is_empty() && !options.allow_order_by {
            return Err(QueryError::ClauseNotSupported(Clause::OrderBy));
        }
        Ok(Query {
            filter,
            order_by,
            group_by,
            names_namespace_division: r.names_namespace_division,
        })
    }
}

struct Resolver<'a> {
    attributes: &'a SearchAttributes,
    names_namespace_division: bool,
}

/// The comparison operators as Temporal names them in messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Cmp(CompareOp),
    NullSafeEq,
    In,
    NotIn,
    Like,
    NotLike,
    Regexp,
    NotRegexp,
    StartsWith,
    NotStartsWith,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Cmp(CompareOp::Eq) => "=",
            Op::Cmp(CompareOp::Ne) => "!=",
            Op::Cmp(CompareOp::Lt) => "<",
            Op::Cmp(CompareOp::Le) => "<=",
            Op::Cmp(CompareOp::Gt) => ">",
            Op::Cmp(CompareOp::Ge) => ">=",
            Op::NullSafeEq => "<=>",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::Like => "LIKE",
            Op::NotLike => "NOT LIKE",
            Op::Regexp => "REGEXP",
            Op::NotRegexp => "NOT REGEXP",
            Op::StartsWith => STARTS_WITH,
            Op::NotStartsWith => NOT_STARTS_WITH,
        }
    }

    fn supported_for(self, ty: IndexedValueType) -> bool {
        let basic = matches!(self, Op::Cmp(_) | Op::In | Op::NotIn);
        match ty {
            IndexedValueType::Keyword => {
                basic || matches!(self, Op::StartsWith | Op::NotStartsWith)
            }
            IndexedValueType::KeywordList => {
                matches!(
                    self,
                    Op::Cmp(CompareOp::Eq | CompareOp::Ne) | Op::In | Op::NotIn
                )
            }
            IndexedValueType::Text => matches!(self, Op::Cmp(CompareOp::Eq | CompareOp::Ne)),
            _ => basic,
        }
    }
}

/// What the right side of a comparison holds before it is typed for the attribute.
enum Operand {
    One(Literal),
    Many(Vec<Literal>),
}

impl<'a> Resolver<'a> {
    fn condition(&mut self, e: &Sql) -> Result<Expr, QueryError> {
        match e {
            Sql::Nested(inner) => self.condition(inner),
            Sql::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => Ok(Expr::Not(Box::new(self.condition(expr)?))),
            Sql::BinaryOp { left, op, right } => match op {
                BinaryOperator::And | BinaryOperator::Or => {
                    let operands = chain(e, op)
                        .into_iter()
                        .map(|operand| self.condition(operand))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(if *op == BinaryOperator::And {
                        Expr::And(operands)
                    } else {
                        Expr::Or(operands)
                    })
                }
                _ => match comparison_op(op) {
                    Some(op) => self.comparison(left, op, std::slice::from_ref(right), false),
                    None => Err(QueryError::UnsupportedCondition(go_type(e))),
                },
            },
            Sql::In {
                expr,
                target,
                negated,
                ..
            } => {
                let op = if *negated { Op::NotIn } else { Op::In };
                match target {
                    InTarget::List(list) => self.comparison(expr, op, list, true),
                    _ => {
                        self.attribute(expr)?;
                        Err(QueryError::UnexpectedValue("*sqlparser.Subquery"))
                    }
                }
            }
            Sql::Like {
                negated,
                expr,
                pattern,
                ..
            } => {
                let op = if *negated { Op::NotLike } else { Op::Like };
                self.comparison(expr, op, std::slice::from_ref(pattern), false)
            }
            Sql::RLike {
                negated,
                expr,
                pattern,
                ..
            } => {
                let op = if *negated { Op::NotRegexp } else { Op::Regexp };
                self.comparison(expr, op, std::slice::from_ref(pattern), false)
            }
            Sql::Between {
                expr,
                negated,
                low,
                high,
            } => self.between(expr, *negated, low, high),
            Sql::IsNull(expr) | Sql::IsNotNull(expr) => Ok(Expr::IsNull {
                attr: self.attribute(expr)?,
                negated: matches!(e, Sql::IsNotNull(_)),
            }),
            Sql::IsTrue(expr)
            | Sql::IsNotTrue(expr)
            | Sql::IsFalse(expr)
            | Sql::IsNotFalse(expr)
            | Sql::IsUnknown(expr)
            | Sql::IsNotUnknown(expr) => {
                self.attribute(expr)?;
                Err(QueryError::IsOperator)
            }
            Sql::Function(_) => Err(QueryError::FunctionCondition),
            Sql::Identifier(_) | Sql::CompoundIdentifier(_) => {
                Err(QueryError::IncompleteExpression)
            }
            other => Err(QueryError::UnsupportedCondition(go_type(other))),
        }
    }

    fn attribute(&mut self, e: &Sql) -> Result<Attribute, QueryError> {
        let name = match e {
            Sql::Identifier(id) => id.value.clone(),
            Sql::CompoundIdentifier(ids) => ids
                .iter()
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
            other => return Err(QueryError::NotAnAttribute(go_type(other))),
        };
        let attr = self.attributes.resolve(&name)?;
        if attr.field == Field::SearchAttribute(NAMESPACE_DIVISION.to_string()) {
            self.names_namespace_division = true;
        }
        Ok(attr)
    }

    /// Temporal's order: the attribute, then the values, then whether the operator suits the
    /// attribute's type, then what the store needs of the value.
    fn comparison(
        &mut self,
        left: &Sql,
        op: Op,
        right: &[Sql],
        is_list: bool,
    ) -> Result<Expr, QueryError> {
        let attr = self.attribute(left)?;
        let operand = if is_list {
            Operand::Many(
                right
                    .iter()
                    .map(|v| self.value(v, &attr))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            match right {
                [Sql::Tuple(items)] => Operand::Many(
                    items
                        .iter()
                        .map(|v| self.value(v, &attr))
                        .collect::<Result<_, _>>()?,
                ),
                [v] => Operand::One(self.value(v, &attr)?),
                _ => return Err(QueryError::UnexpectedValue("sqlparser.ValTuple")),
            }
        };
        if !op.supported_for(attr.ty) {
            return Err(QueryError::OperatorNotSupported {
                operator: op.name().to_string(),
                ty: attr.ty,
                attribute: attr.alias,
            });
        }
        if attr.ty == IndexedValueType::Text {
            if let Operand::One(Literal::String(s)) = &operand {
                if s.split(' ').all(str::is_empty) {
                    return Err(QueryError::EmptyText(attr.alias));
                }
            }
        }
        match (op, operand) {
            (Op::Cmp(cmp), Operand::One(value)) => Ok(Expr::Compare {
                attr,
                op: cmp,
                value,
            }),
            (Op::In | Op::NotIn, Operand::Many(values)) => Ok(Expr::In {
                attr,
                values,
                negated: op == Op::NotIn,
            }),
            (Op::StartsWith | Op::NotStartsWith, Operand::One(value)) => {
                let prefix = match value {
                    Literal::String(s) => s,
                    Literal::Status(s) => {
                        return Err(QueryError::StartsWithNotString(s.name().to_string()))
                    }
                    _ => return Err(QueryError::UnexpectedValue("*sqlparser.SQLVal")),
                };
                Ok(Expr::StartsWith {
                    attr,
                    prefix,
                    negated: op == Op::NotStartsWith,
                })
            }
            // A tuple after `=`, or a single value after IN: the store cannot build that.
            (_, Operand::Many(_)) => Err(QueryError::UnexpectedValue("sqlparser.ValTuple")),
            (_, Operand::One(_)) => Err(QueryError::UnexpectedValue("*sqlparser.SQLVal")),
        }
    }

    fn between(
        &mut self,
        expr: &Sql,
        negated: bool,
        low: &Sql,
        high: &Sql,
    ) -> Result<Expr, QueryError> {
        let attr = self.attribute(expr)?;
        if !matches!(
            attr.ty,
            IndexedValueType::Datetime
                | IndexedValueType::Double
                | IndexedValueType::Int
                | IndexedValueType::Keyword
        ) {
            return Err(QueryError::RangeNotSupported {
                attribute: attr.alias,
                ty: attr.ty,
            });
        }
        let low = self.value(low, &attr)?;
        let high = self.value(high, &attr)?;
        Ok(Expr::Between {
            attr,
            low,
            high,
            negated,
        })
    }

    /// One value on the right side, typed for `attr`.
    fn value(&mut self, e: &Sql, attr: &Attribute) -> Result<Literal, QueryError> {
        let raw = raw_literal(e)?;
        if attr.is_system(SystemField::ExecutionStatus) {
            return match raw {
                GoLiteral::Int(n) => ExecutionStatus::from_number(n)
                    .map(Literal::Status)
                    .ok_or(QueryError::BadExecutionStatus(raw)),
                GoLiteral::Str(ref s) => ExecutionStatus::from_name(s)
                    .map(Literal::Status)
                    .ok_or(QueryError::BadExecutionStatus(raw)),
                GoLiteral::Float(_) => Err(QueryError::UnexpectedValueFor {
                    attribute: attr.alias.clone(),
                    value: raw,
                }),
                GoLiteral::Bool(_) => Err(wrong_type(attr, raw)),
            };
        }
        if attr.is_system(SystemField::ExecutionDuration) {
            return match raw {
                GoLiteral::Int(n) => Ok(Literal::Int(n)),
                GoLiteral::Str(ref s) => parse_execution_duration(s)
                    .map(Literal::Int)
                    .ok_or(QueryError::BadExecutionDuration(raw)),
                GoLiteral::Float(_) => Err(QueryError::UnexpectedValueFor {
                    attribute: attr.alias.clone(),
                    value: raw,
                }),
                GoLiteral::Bool(_) => Err(wrong_type(attr, raw)),
            };
        }
        match (attr.ty, raw) {
            (IndexedValueType::Int | IndexedValueType::Double, GoLiteral::Int(n)) => {
                Ok(Literal::Int(n))
            }
            (IndexedValueType::Int | IndexedValueType::Double, GoLiteral::Float(f)) => {
                Ok(Literal::Double(f))
            }
            (IndexedValueType::Bool, GoLiteral::Bool(b)) => Ok(Literal::Bool(b)),
            (IndexedValueType::Datetime, GoLiteral::Int(n)) => Ok(Literal::Datetime(UnixNanos(n))),
            (IndexedValueType::Datetime, GoLiteral::Str(s)) => UnixNanos::parse_rfc3339(&s)
                .map(Literal::Datetime)
                .ok_or(QueryError::BadDatetime(s)),
            (
                IndexedValueType::Keyword | IndexedValueType::KeywordList | IndexedValueType::Text,
                GoLiteral::Str(s),
            ) => Ok(Literal::String(s)),
            (_, raw) => Err(wrong_type(attr, raw)),
        }
    }
}

/// The operands of a left-deep chain of one logical operator, left to right, found without
/// recursion (a chain may be thousands long; parenthesized or mixed parts stay whole).
fn chain<'e>(e: &'e Sql, which: &BinaryOperator) -> Vec<&'e Sql> {
    let mut rights = Vec::new();
    let mut cur = e;
    while let Sql::BinaryOp { left, op, right } = cur {
        if op != which {
            break;
        }
        rights.push(right.as_ref());
        cur = left;
    }
    rights.push(cur);
    rights.reverse();
    rights
}

fn wrong_type(attr: &Attribute, value: GoLiteral) -> QueryError {
    QueryError::WrongValueType {
        attribute: attr.alias.clone(),
        ty: attr.ty,
        value,
    }
}

fn comparison_op(op: &BinaryOperator) -> Option<Op> {
    Some(match op {
        BinaryOperator::Eq => Op::Cmp(CompareOp::Eq),
        BinaryOperator::NotEq => Op::Cmp(CompareOp::Ne),
        BinaryOperator::Lt => Op::Cmp(CompareOp::Lt),
        BinaryOperator::LtEq => Op::Cmp(CompareOp::Le),
        BinaryOperator::Gt => Op::Cmp(CompareOp::Gt),
        BinaryOperator::GtEq => Op::Cmp(CompareOp::Ge),
        BinaryOperator::Spaceship => Op::NullSafeEq,
        BinaryOperator::Custom(c) if c == STARTS_WITH => Op::StartsWith,
        BinaryOperator::Custom(c) if c == NOT_STARTS_WITH => Op::NotStartsWith,
        _ => return None,
    })
}

/// A value expression as Temporal's converter sees it before typing: a literal, or the error
/// for what it is instead.
fn raw_literal(e: &Sql) -> Result<GoLiteral, QueryError> {
    match e {
        Sql::Value(v) => sql_value(&v.value),
        Sql::UnaryOp {
            op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
            expr,
        } => {
            // Temporal's grammar folds a sign into the number it precedes.
            let folded = match expr.as_ref() {
                Sql::Value(v) => match &v.value {
                    Value::Number(n, _) => Some(if *op == UnaryOperator::Minus {
                        format!("-{n}")
                    } else {
                        n.clone()
                    }),
                    _ => None,
                },
                _ => None,
            };
            match folded {
                Some(n) => number(&n),
                None => Err(QueryError::UnaryOnNonNumber(e.to_string())),
            }
        }
        Sql::UnaryOp {
            op: UnaryOperator::BangNot | UnaryOperator::Not,
            ..
        } => Err(QueryError::UnaryOperator("!".to_string())),
        Sql::UnaryOp { .. } => Err(QueryError::UnaryOnNonNumber(e.to_string())),
        Sql::Function(_) => Err(QueryError::FunctionValue),
        Sql::Identifier(id) => Err(QueryError::AttributeAsValue(id.value.clone())),
        Sql::CompoundIdentifier(_) => Err(QueryError::AttributeAsValue(e.to_string())),
        other => Err(QueryError::UnexpectedValue(go_type(other))),
    }
}

fn sql_value(v: &Value) -> Result<GoLiteral, QueryError> {
    match v {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
            // Temporal re-quotes the string and then trims every leading and trailing single
            // quote, so `'''a'''` means `a`; reproduced so both servers read it alike.
            Ok(GoLiteral::Str(s.trim_matches('\'').to_string()))
        }
        Value::Number(n, _) => number(n),
        Value::Boolean(b) => Ok(GoLiteral::Bool(*b)),
        Value::Null => Err(QueryError::UnexpectedValue("*sqlparser.NullVal")),
        Value::HexStringLiteral(h) => Err(QueryError::UnparsableValue(format!("0x{h}"))),
        Value::Placeholder(p) if p == "?" => Err(QueryError::UnparsableValue(":v1".into())),
        Value::Placeholder(p) => Err(QueryError::UnparsableValue(p.clone())),
        other => Err(QueryError::UnparsableValue(other.to_string())),
    }
}

/// Go's order: an int64 if it parses as one, else a float64, else not a value.
fn number(n: &str) -> Result<GoLiteral, QueryError> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(GoLiteral::Int(i));
    }
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(GoLiteral::Float(f)),
        _ => Err(QueryError::UnparsableValue(n.to_string())),
    }
}

/// The Go type Temporal's parser would have built for this node, for its error messages.
fn go_type(e: &Sql) -> &'static str {
    match e {
        Sql::Identifier(_) | Sql::CompoundIdentifier(_) => "*sqlparser.ColName",
        Sql::Value(v) => match v.value {
            Value::Null => "*sqlparser.NullVal",
            Value::Boolean(_) => "sqlparser.BoolVal",
            _ => "*sqlparser.SQLVal",
        },
        Sql::Function(_) => "*sqlparser.FuncExpr",
        Sql::BinaryOp { op, .. } => match op {
            BinaryOperator::And => "*sqlparser.AndExpr",
            BinaryOperator::Or => "*sqlparser.OrExpr",
            _ if comparison_op(op).is_some() => "*sqlparser.ComparisonExpr",
            _ => "*sqlparser.BinaryExpr",
        },
        Sql::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => "*sqlparser.NotExpr",
        Sql::UnaryOp { .. } => "*sqlparser.UnaryExpr",
        Sql::Nested(_) => "*sqlparser.ParenExpr",
        Sql::Tuple(_) => "sqlparser.ValTuple",
        Sql::Subquery(_) => "*sqlparser.Subquery",
        Sql::Exists { .. } => "*sqlparser.ExistsExpr",
        Sql::Collate { .. } => "*sqlparser.CollateExpr",
        Sql::Between { .. } => "*sqlparser.RangeCond",
        Sql::In { .. } | Sql::Like { .. } | Sql::RLike { .. } => "*sqlparser.ComparisonExpr",
        Sql::IsNull(_)
        | Sql::IsNotNull(_)
        | Sql::IsTrue(_)
        | Sql::IsNotTrue(_)
        | Sql::IsFalse(_)
        | Sql::IsNotFalse(_) => "*sqlparser.IsExpr",
        Sql::Case { .. } => "*sqlparser.CaseExpr",
        Sql::Interval(_) => "*sqlparser.IntervalExpr",
        Sql::Cast { .. } => "*sqlparser.ConvertExpr",
        _ => "sqlparser.Expr",
    }
}

#[cfg(test)]
mod tests;
