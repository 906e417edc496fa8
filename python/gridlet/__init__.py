"""Client of the gridlet gateway's HTTP API.

    import gridlet
    gw = gridlet.Client("https://gateway:8443", token="glt_...", cafile="cert.pem")
    df = gw.query("panel1/mains/kw", start="-1d", step="15m")   # a DataFrame, UTC DatetimeIndex
"""

from gridlet.client import ApiError, Client, GridletTruncated

__all__ = ["ApiError", "Client", "GridletTruncated"]
__version__ = "0.1.0"
