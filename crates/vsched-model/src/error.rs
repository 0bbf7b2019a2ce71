//! Error codes of the external contract and the error value every operation returns.
//!
//! The mapping from code to HTTP status lives here, in one place, so the API layer and
//! the client agree on it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The error codes a client can branch on. Each has one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Missing field, wrong type, bad enum value, bad memstr, bad JSON.
    InvalidArgument,
    /// The operation name is not in the operation table.
    UnknownOp,
    /// No token, or a token the cluster does not know.
    Unauthenticated,
    /// The token is valid but its role or namespace does not allow the operation.
    PermissionDenied,
    /// A named object does not exist (or lives in a namespace the caller cannot see).
    NotFound,
    /// A create named an object that already exists.
    AlreadyExists,
    /// The current state forbids the operation.
    FailedPrecondition,
    /// No node can take it, or a limit would be exceeded.
    ResourceExhausted,
    /// No leader or no quorum right now; retrying with the same `request_id` is safe.
    Unavailable,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// A bug; logged with the request id.
    Internal,
}

impl ErrorCode {
    /// Every code, for tables and metrics.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidArgument,
        ErrorCode::UnknownOp,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::FailedPrecondition,
        ErrorCode::ResourceExhausted,
        ErrorCode::Unavailable,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Internal,
    ];

    /// The wire spelling, e.g. `NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::UnknownOp => "UNKNOWN_OP",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// Parses the wire spelling back, as the client does with a reply.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status a reply with this code carries.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidArgument | ErrorCode::UnknownOp => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists | ErrorCode::FailedPrecondition => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::ResourceExhausted => 422,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of one operation: a code, a message for people, and where it applies,
/// the field that caused it and structured details (per-constraint counts, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OpError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Structured details, kept as JSON text so the error stays encodable with any
    /// serde format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// The result type of every operation.
pub type OpResult<T> = Result<T, OpError>;

impl OpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OpError { code, message: message.into(), field: None, details: None }
    }

    /// Names the request field the error is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: &Value) -> Self {
        self.details = Some(details.to_string());
        self
    }

    /// The structured details, if any.
    pub fn details_json(&self) -> Option<Value> {
        self.details.as_deref().and_then(|d| serde_json::from_str(d).ok())
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::InvalidArgument, message).with_field(field)
    }

    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::NotFound, message).with_field(field)
    }

    pub fn already_exists(field: &str, message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::AlreadyExists, message).with_field(field)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::FailedPrecondition, message)
    }

    pub fn denied(message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::PermissionDenied, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        OpError::new(ErrorCode::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_wire_spelling() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ErrorCode::InvalidArgument.http_status(), 400);
        assert_eq!(ErrorCode::UnknownOp.http_status(), 400);
        assert_eq!(ErrorCode::Unauthenticated.http_status(), 401);
        assert_eq!(ErrorCode::PermissionDenied.http_status(), 403);
        assert_eq!(ErrorCode::NotFound.http_status(), 404);
        assert_eq!(ErrorCode::AlreadyExists.http_status(), 409);
        assert_eq!(ErrorCode::FailedPrecondition.http_status(), 409);
        assert_eq!(ErrorCode::ResourceExhausted.http_status(), 422);
        assert_eq!(ErrorCode::Unavailable.http_status(), 503);
        assert_eq!(ErrorCode::PayloadTooLarge.http_status(), 413);
        assert_eq!(ErrorCode::Internal.http_status(), 500);
    }
}
