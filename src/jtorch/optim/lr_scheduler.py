"""Learning-rate schedulers with torch's step()/get_last_lr()/state_dict(), and pure schedules."""

__all__: list[str] = []
