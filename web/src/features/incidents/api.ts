import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiGet, apiSend } from '../../lib/api-client.js';
import { appKey } from '../../lib/query.js';
import { useCurrentApp } from '../../lib/router.js';
import type {
  Incident,
  IncidentPage,
  Message,
  NotificationPage,
  Silence,
  SilencePage,
  TestSent,
  UnrecognisedReport,
} from '../../types/api.js';

// Every query and change is about one app (`app`, null for the single app): its key names it, its call asks
// for it, and a change refetches that app's views only.

export const getIncidents = (
  app: string | null,
  state: string | undefined,
  cursor: string | undefined,
  signal?: AbortSignal,
) => apiGet<IncidentPage>('/incidents', { params: { state, cursor, limit: 50 }, signal, app });

export const incidentsQueryOptions = (app: string | null, state?: string, cursor?: string) =>
  queryOptions({
    queryKey: appKey(app, 'incidents', state ?? '', cursor ?? ''),
    queryFn: ({ signal }) => getIncidents(app, state, cursor, signal),
  });

export const useIncidents = (state?: string, cursor?: string) =>
  useQuery(incidentsQueryOptions(useCurrentApp(), state, cursor));

export const getIncident = (app: string | null, id: number, signal?: AbortSignal) =>
  apiGet<Incident>(`/incidents/${id}`, { signal, app });

export const incidentQueryOptions = (app: string | null, id: number) =>
  queryOptions({
    queryKey: appKey(app, 'incident', id),
    queryFn: ({ signal }) => getIncident(app, id, signal),
    placeholderData: undefined,
  });

export const useIncident = (id: number) => useQuery(incidentQueryOptions(useCurrentApp(), id));

export const getUnrecognised = (app: string | null, signal?: AbortSignal) =>
  apiGet<UnrecognisedReport>('/unrecognised', { params: { hours: 24, limit: 10 }, signal, app });

export const unrecognisedQueryOptions = (app: string | null) =>
  queryOptions({
    queryKey: appKey(app, 'unrecognised'),
    queryFn: ({ signal }) => getUnrecognised(app, signal),
  });

export const useUnrecognised = () => useQuery(unrecognisedQueryOptions(useCurrentApp()));

export const getSilences = (app: string | null, signal?: AbortSignal) =>
  apiGet<SilencePage>('/silences', { params: { active: 'true', limit: 200 }, signal, app });

export const silencesQueryOptions = (app: string | null) =>
  queryOptions({ queryKey: appKey(app, 'silences'), queryFn: ({ signal }) => getSilences(app, signal) });

export const useSilences = () => useQuery(silencesQueryOptions(useCurrentApp()));

export const getNotifications = (app: string | null, cursor: string | undefined, signal?: AbortSignal) =>
  apiGet<NotificationPage>('/notifications', { params: { cursor, limit: 25 }, signal, app });

export const notificationsQueryOptions = (app: string | null, cursor?: string) =>
  queryOptions({
    queryKey: appKey(app, 'notifications', cursor ?? ''),
    queryFn: ({ signal }) => getNotifications(app, cursor, signal),
  });

export const useNotifications = (cursor?: string) =>
  useQuery(notificationsQueryOptions(useCurrentApp(), cursor));

export const getMessage = (app: string | null, id: number, signal?: AbortSignal) =>
  apiGet<Message>(`/notifications/${id}/message`, { signal, app });

/** A queued message changes only in its state: its subject and bodies are written once. */
export const useMessage = (id: number) => {
  const app = useCurrentApp();
  return useQuery({
    queryKey: appKey(app, 'message', id),
    queryFn: ({ signal }) => getMessage(app, id, signal),
  });
};

/** After any change, everything of the app that shows incidents (overview included) refetches at once. */
function useInvalidateIncidents(app: string | null) {
  const qc = useQueryClient();
  return () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: appKey(app, 'incidents') }),
      qc.invalidateQueries({ queryKey: appKey(app, 'incident') }),
      qc.invalidateQueries({ queryKey: appKey(app, 'silences') }),
      qc.invalidateQueries({ queryKey: appKey(app, 'notifications') }),
      qc.invalidateQueries({ queryKey: appKey(app, 'status') }),
      // the fleet page's row of the app shows its firing incidents
      qc.invalidateQueries({ queryKey: ['apps'] }),
    ]);
}

export interface AckInput {
  id: number;
  by?: string;
  comment?: string;
}

export const ackIncident = (app: string | null, { id, ...body }: AckInput) =>
  apiSend<Incident>('POST', `/incidents/${id}/ack`, body, { app });

export const useAckIncident = () => {
  const app = useCurrentApp();
  const invalidate = useInvalidateIncidents(app);
  return useMutation({ mutationFn: (input: AckInput) => ackIncident(app, input), onSuccess: invalidate });
};

export interface SilenceInput {
  rule: string;
  identity?: string;
  comment?: string;
  createdBy?: string;
  expiresAt: string;
}

export const createSilence = (app: string | null, input: SilenceInput) =>
  apiSend<Silence>('POST', '/silences', input, { app });

export const useCreateSilence = () => {
  const app = useCurrentApp();
  const invalidate = useInvalidateIncidents(app);
  return useMutation({
    mutationFn: (input: SilenceInput) => createSilence(app, input),
    onSuccess: invalidate,
  });
};

export const deleteSilence = (app: string | null, id: number) =>
  apiSend<Silence>('DELETE', `/silences/${id}`, undefined, { app });

export const useDeleteSilence = () => {
  const app = useCurrentApp();
  const invalidate = useInvalidateIncidents(app);
  return useMutation({ mutationFn: (id: number) => deleteSilence(app, id), onSuccess: invalidate });
};

export const sendTestEmail = (app: string | null, receiver = 'email') =>
  apiSend<TestSent>(
    'POST',
    `/notifications/test?receiver=${encodeURIComponent(receiver)}`,
    { requestedBy: 'dashboard' },
    { app },
  );

export const useSendTestEmail = () => {
  const app = useCurrentApp();
  const invalidate = useInvalidateIncidents(app);
  return useMutation({
    mutationFn: (receiver?: string) => sendTestEmail(app, receiver),
    onSuccess: invalidate,
  });
};
