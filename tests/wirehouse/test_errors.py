from core.settings import SettingsError
from tasks.export import ExportError
from tasks.feeds import FeedListError
from tasks.http import BlockedAddressError, FetchError
from tasks.search import SearchError
from warehouse.connection import WarehouseBusyError, WarehouseError
from wirehouse.errors import PermanentError, TransientError, WirehouseError, is_transient


def test_every_error_the_cli_prints_shares_one_root():
    for cls in (ExportError, FeedListError, FetchError, WarehouseError, SearchError, SettingsError):
        assert issubclass(cls, WirehouseError), cls


def test_transient_is_a_type_not_a_string():
    assert is_transient(WarehouseBusyError("busy"))
    assert not is_transient(WarehouseError("broken"))
    assert is_transient(TransientError("x")) and not is_transient(PermanentError("x"))
    assert not is_transient(ValueError("not ours"))
    assert is_transient(FetchError("timeout", "timed out", url="http://a"))
    assert not is_transient(BlockedAddressError("blocked", "private", url="http://a"))
    assert not is_transient(FetchError("http_status", "gone", url="http://a", status=410))
    assert is_transient(FetchError("http_status", "busy", url="http://a", status=503))
