"""Console access URLs."""

import urllib.parse


def build_access_url(base_url, token):
    """Return ``base_url`` with ``token=<token>`` in its query, exactly once.

    The base's scheme, host (IPv6 stays in brackets), port, path prefix,
    other query parameters and fragment are kept byte for byte; any ``token``
    parameter the base already carries is replaced.
    """
    parts = urllib.parse.urlsplit(base_url)
    kept = []
    for field in parts.query.split("&") if parts.query else []:
        name = field.split("=", 1)[0]
        if urllib.parse.unquote_plus(name) == "token":
            continue
        kept.append(field)
    kept.append("token=" + urllib.parse.quote(token, safe="-"))
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment)
    )
