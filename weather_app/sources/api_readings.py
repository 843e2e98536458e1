"""What each weather API adapter makes of its answer: a city's reading in v2's units."""

from models import RawReading
from weather_app.rules.timestamps import format_rfc3339, from_epoch
from weather_app.rules.units import SourceUnits, to_v2_units
from weather_app.sources.cities import City

# An hourly entry further ahead than this is not "the next hour".
NEXT_HOUR_HORIZON_SECONDS = 2 * 3600


def api_reading(
    city: City,
    epoch: float,
    units: SourceUnits,
    *,
    temperature: float,
    humidity: float,
    wind_speed: float,
    precipitation: float,
    wind_dir: float | None,
    conditions: str,
    icon: str,
    forecast_temp: float | None,
    forecast_precip: float | None,
    source_station_id: str | None = None,
) -> RawReading:
    """The reading the API reported at `epoch` in `units`, converted to v2's: `data_origin` api
    and the city's own `station_id` whichever API or station answered."""
    reported = RawReading(
        city=city.name,
        country=city.country,
        station_id=city.api_station_id,
        timestamp=format_rfc3339(from_epoch(epoch)),
        temperature=temperature,
        humidity=humidity,
        wind_speed=wind_speed,
        precipitation=precipitation,
        data_origin="api",
        wind_dir=wind_dir,
        conditions=conditions,
        icon=icon,
        forecast_temp=forecast_temp,
        forecast_precip=forecast_precip,
        source_station_id=source_station_id,
    )
    return to_v2_units(reported, units)
