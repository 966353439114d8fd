-- name: request_by_reference
-- An RFA imported from EDXL-RM keeps the message's MessageID as its reference, so a
-- later ResponseToRequestResource that quotes it finds the RFA (the newest, if the
-- same message was imported into several emergencies and none is named).
SELECT id, emergency_id
FROM requests
WHERE reference = :reference AND (:emergency_id::text IS NULL OR emergency_id = :emergency_id)
ORDER BY created_at DESC, id DESC
LIMIT 1;
