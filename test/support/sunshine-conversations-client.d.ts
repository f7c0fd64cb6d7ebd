/**
 * The few parts of the public `sunshine-conversations-client` package (CJS,
 * no types of its own) that test/sunco-client.test.ts drives.
 */
declare module 'sunshine-conversations-client' {
  export interface Authentication {
    type: string;
    username?: string;
    password?: string;
    accessToken?: string;
  }

  export class ApiClient {
    basePath: string;
    authentications: { basicAuth: Authentication; bearerAuth: Authentication };
  }

  export interface App {
    id: string;
    displayName: string;
    settings?: Record<string, unknown>;
    metadata?: Record<string, unknown> | null;
  }

  export interface AppKey {
    id: string;
    displayName: string;
    secret?: string;
  }

  export interface AppListResponse {
    apps: App[];
    meta?: { hasMore?: boolean; afterCursor?: string; beforeCursor?: string };
    links?: { next?: string; prev?: string };
  }

  export class AppsApi {
    constructor(client?: ApiClient);
    listApps(opts?: { page?: { after?: string; before?: string; size?: number }; filter?: { serviceAccountId?: string } }): Promise<AppListResponse>;
    createApp(body: { displayName: string; settings?: Record<string, unknown>; metadata?: Record<string, unknown> }): Promise<{ app: App }>;
    getApp(appId: string): Promise<{ app: App }>;
    updateApp(appId: string, body: { displayName?: string; settings?: Record<string, unknown>; metadata?: Record<string, unknown> | null }): Promise<{ app: App }>;
    deleteApp(appId: string): Promise<unknown>;
  }

  export class AppKeysApi {
    constructor(client?: ApiClient);
    listAppKeys(appId: string): Promise<{ keys: AppKey[] }>;
    createAppKey(appId: string, body: { displayName: string }): Promise<{ key: AppKey }>;
    getAppKey(appId: string, keyId: string): Promise<{ key: AppKey }>;
    deleteAppKey(appId: string, keyId: string): Promise<unknown>;
  }

  const SunshineConversationsClient: {
    ApiClient: typeof ApiClient;
    AppsApi: typeof AppsApi;
    AppKeysApi: typeof AppKeysApi;
  };
  export default SunshineConversationsClient;
}
