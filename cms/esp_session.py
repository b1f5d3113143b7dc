"""The ESP's HTTP session, settled once per connection rather than once per email."""

from anymail.backends.base_requests import AnymailRequestsBackend
from requests.utils import get_netrc_auth


def settle_environment(connection):
    """Read the host's proxy, CA bundle and netrc settings for the ESP once, for every email of ``connection``.

    requests reads them on every request (``Session.merge_environment_settings``: the proxies of
    os.environ, walked whole, and NO_PROXY; the CA bundle variables; a netrc file in
    ``prepare_request``): a third of a worker's CPU per verification email. Here they are read
    for the ESP's URL when the connection opens and set on the session, with ``trust_env`` off,
    so HTTPS_PROXY/NO_PROXY, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE and a netrc entry for the ESP's
    host still apply, as they stood when the batch began. Only anymail's requests-based backends
    (every request of one goes to its ``api_url``'s host); any other backend is left as it is.
    """
    session = getattr(connection, "session", None)
    if not isinstance(connection, AnymailRequestsBackend) or session is None or not session.trust_env:
        return
    url = connection.api_url
    settled = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies = settled["proxies"]
    session.verify = settled["verify"]
    if session.auth is None:
        # As prepare_request does for a request without auth of its own (anymail's Postmark sends a header).
        session.auth = get_netrc_auth(url)
    session.trust_env = False
