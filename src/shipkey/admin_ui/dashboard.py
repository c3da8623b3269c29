"""The seller's dashboard: sales, revenue, deliveries and downloads of the last 30 days."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from starlette.responses import Response

from shipkey.admin_ui import charts, service
from shipkey.admin_ui.pages import Admin, admin_router
from shipkey.http.deps import DatabaseDep, ReadSession
from shipkey.web.render import money, page_locale, render, short_date_plain, tr

router = admin_router()


@router.get("", dependencies=Admin)
def dashboard(request: Request, session: ReadSession, db: DatabaseDep) -> Response:
    numbers = service.dashboard(session, keep=service.keep_days(db))
    locale = page_locale(request)
    currency = numbers.revenue_currency or "EUR"
    day_name = cache(lambda day: short_date_plain(day, locale))  # the same days in each chart

    def count_chart(chart_id: str, title: str, series: service.Series, unit: str) -> Any:
        return charts.bar_chart(
            chart_id,
            title,
            series.points,
            describe=lambda day, value: f"{day_name(day)}: {value:g} {unit}",
            integers=True,
        )

    sales_chart = count_chart(
        "sales", tr(request, "Sales per day"), numbers.sales, tr(request, "sales")
    )
    revenue_chart = charts.bar_chart(
        "revenue",
        tr(request, "Revenue per day (%(currency)s)", currency=currency),
        numbers.revenue_series.points,
        describe=lambda day, value: f"{day_name(day)}: {money(int(value * 100), currency, locale)}",
    )
    deliveries_chart = count_chart(
        "deliveries",
        tr(request, "Delivery e-mails sent per day"),
        numbers.deliveries,
        tr(request, "e-mails"),
    )
    downloads_chart = count_chart(
        "downloads", tr(request, "Downloads per day"), numbers.downloads, tr(request, "downloads")
    )
    return render(
        request,
        "admin/dashboard.html",
        {
            "d": numbers,
            "charts": [
                (tr(request, "Sales per day"), sales_chart),
                (tr(request, "Revenue per day (%(currency)s)", currency=currency), revenue_chart),
                (tr(request, "Delivery e-mails sent per day"), deliveries_chart),
                (tr(request, "Downloads per day"), downloads_chart),
            ],
        },
    )
