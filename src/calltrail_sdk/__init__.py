"""Calltrail's Python SDK: call logs for one user (``CallLogRequestBuilder``, auth token) and
the REST API for servers (``CalltrailClient``, API key). Depends on httpx alone.

```python
from calltrail_sdk import CallAppSettings, CallLogRequestBuilder

settings = CallAppSettings(host="http://localhost:8080", app_id="demo")
request = CallLogRequestBuilder(settings).set_auth_token(token).set_call_status("missed").build()
for log in request.fetch_next():
    print(log.initiator.name, log.status, log.total_duration)
```
"""

from calltrail_sdk._call_logs import (
    AsyncCallLogRequest,
    CallLogParams,
    CallLogRequest,
    CallLogRequestBuilder,
    get_call_details,
    get_call_details_async,
)
from calltrail_sdk._client import AsyncCalltrailClient, CalltrailClient
from calltrail_sdk._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CalltrailError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RequestInProgressError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from calltrail_sdk._filters import CallFilter, CallMode, CallStatus, CallType, Range, ReceiverType
from calltrail_sdk._models import (
    AuthToken,
    CallGroup,
    CallLog,
    CallPage,
    CallUser,
    GroupProfile,
    IngestResult,
    Pagination,
    Participant,
    Recording,
    UserProfile,
)
from calltrail_sdk._settings import CallAppSettings
from calltrail_sdk._usage import UsageSeries
from calltrail_sdk._version import __version__
from calltrail_sdk._webhooks import (
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookVerificationError,
    verify_webhook,
)

__all__ = [
    "APIError",
    "AsyncCallLogRequest",
    "AsyncCalltrailClient",
    "AuthToken",
    "AuthenticationError",
    "BadRequestError",
    "CallAppSettings",
    "CallFilter",
    "CallGroup",
    "CallLog",
    "CallLogParams",
    "CallLogRequest",
    "CallLogRequestBuilder",
    "CallMode",
    "CallPage",
    "CallStatus",
    "CallType",
    "CallUser",
    "CalltrailClient",
    "CalltrailError",
    "ConflictError",
    "GroupProfile",
    "IngestResult",
    "InvalidResponseError",
    "NotFoundError",
    "Pagination",
    "Participant",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Range",
    "RateLimitError",
    "ReceiverType",
    "Recording",
    "RequestInProgressError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "UsageSeries",
    "UserProfile",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookVerificationError",
    "__version__",
    "get_call_details",
    "get_call_details_async",
    "verify_webhook",
]
