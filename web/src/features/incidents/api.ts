import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiGet, apiSend } from '../../lib/api-client.js';
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

export const getIncidents = (state: string | undefined, cursor: string | undefined, signal?: AbortSignal) =>
  apiGet<IncidentPage>('/incidents', { params: { state, cursor, limit: 50 }, signal });

export const incidentsQueryOptions = (state?: string, cursor?: string) =>
  queryOptions({
    queryKey: ['incidents', state ?? '', cursor ?? ''],
    queryFn: ({ signal }) => getIncidents(state, cursor, signal),
  });

export const useIncidents = (state?: string, cursor?: string) =>
  useQuery(incidentsQueryOptions(state, cursor));

export const getIncident = (id: number, signal?: AbortSignal) =>
  apiGet<Incident>(`/incidents/${id}`, { signal });

export const incidentQueryOptions = (id: number) =>
  queryOptions({
    queryKey: ['incident', id],
    queryFn: ({ signal }) => getIncident(id, signal),
    placeholderData: undefined,
  });

export const useIncident = (id: number) => useQuery(incidentQueryOptions(id));

export const getUnrecognised = (signal?: AbortSignal) =>
  apiGet<UnrecognisedReport>('/unrecognised', { params: { hours: 24, limit: 10 }, signal });

export const unrecognisedQueryOptions = () =>
  queryOptions({ queryKey: ['unrecognised'], queryFn: ({ signal }) => getUnrecognised(signal) });

export const useUnrecognised = () => useQuery(unrecognisedQueryOptions());

export const getSilences = (signal?: AbortSignal) =>
  apiGet<SilencePage>('/silences', { params: { active: 'true', limit: 200 }, signal });

export const silencesQueryOptions = () =>
  queryOptions({ queryKey: ['silences'], queryFn: ({ signal }) => getSilences(signal) });

export const useSilences = () => useQuery(silencesQueryOptions());

export const getNotifications = (cursor: string | undefined, signal?: AbortSignal) =>
  apiGet<NotificationPage>('/notifications', { params: { cursor, limit: 25 }, signal });

export const notificationsQueryOptions = (cursor?: string) =>
  queryOptions({
    queryKey: ['notifications', cursor ?? ''],
    queryFn: ({ signal }) => getNotifications(cursor, signal),
  });

export const useNotifications = (cursor?: string) => useQuery(notificationsQueryOptions(cursor));

export const getMessage = (id: number, signal?: AbortSignal) =>
  apiGet<Message>(`/notifications/${id}/message`, { signal });

/** A queued message changes only in its state: its subject and bodies are written once. */
export const useMessage = (id: number) =>
  useQuery({ queryKey: ['message', id], queryFn: ({ signal }) => getMessage(id, signal) });

/** After any change, everything that shows incidents (overview included) refetches at once. */
function useInvalidateIncidents() {
  const qc = useQueryClient();
  return () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: ['incidents'] }),
      qc.invalidateQueries({ queryKey: ['incident'] }),
      qc.invalidateQueries({ queryKey: ['silences'] }),
      qc.invalidateQueries({ queryKey: ['notifications'] }),
      qc.invalidateQueries({ queryKey: ['status'] }),
    ]);
}

export interface AckInput {
  id: number;
  by?: string;
  comment?: string;
}

export const ackIncident = ({ id, ...body }: AckInput) =>
  apiSend<Incident>('POST', `/incidents/${id}/ack`, body);

export const useAckIncident = () => {
  const invalidate = useInvalidateIncidents();
  return useMutation({ mutationFn: ackIncident, onSuccess: invalidate });
};

export interface SilenceInput {
  rule: string;
  identity?: string;
  comment?: string;
  createdBy?: string;
  expiresAt: string;
}

export const createSilence = (input: SilenceInput) => apiSend<Silence>('POST', '/silences', input);

export const useCreateSilence = () => {
  const invalidate = useInvalidateIncidents();
  return useMutation({ mutationFn: createSilence, onSuccess: invalidate });
};

export const deleteSilence = (id: number) => apiSend<Silence>('DELETE', `/silences/${id}`);

export const useDeleteSilence = () => {
  const invalidate = useInvalidateIncidents();
  return useMutation({ mutationFn: deleteSilence, onSuccess: invalidate });
};

export const sendTestEmail = (receiver = 'email') =>
  apiSend<TestSent>('POST', `/notifications/test?receiver=${encodeURIComponent(receiver)}`, {
    requestedBy: 'dashboard',
  });

export const useSendTestEmail = () => {
  const invalidate = useInvalidateIncidents();
  return useMutation({ mutationFn: sendTestEmail, onSuccess: invalidate });
};
