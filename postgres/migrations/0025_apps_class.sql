-- 0025: a school's pupils by class, for its attendance report
-- (apps.Office.Attendance reads one class's grants of one application).
CREATE INDEX apps_grants_class ON apps_grants (app, class);
