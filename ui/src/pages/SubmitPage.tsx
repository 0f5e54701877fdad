export function SubmitPage() { return <div className="page">submit</div>; }
